#!/usr/bin/env node
// The `herald` command. Runs the compiled JavaScript in dist/ (what an installed package ships,
// and what `npm ci` builds in a checkout); in a checkout whose sources changed since that build,
// runs the sources through tsx instead, so what runs is always what is checked out.
import { pathToFileURL } from 'node:url';
import { buildIsFresh, COMPILED_MAIN, ROOT } from './build-state.js';

if (buildIsFresh()) {
  await import(pathToFileURL(COMPILED_MAIN).href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`herald: no usable build in ${ROOT}/dist and no tsx to run the sources: run \`npm run build\` (or \`npm ci\`)\n`);
    process.exit(1);
  }
  register();
  await import(pathToFileURL(`${ROOT}/src/cli/main.ts`).href);
}
