#!/usr/bin/env node
/**
 * Compiles src/ to dist/src/ with tsc (tsconfig.build.json), builds the console pages
 * (bin/build-console.js → dist/console/), and records the commit it was built
 * from in dist/build-info.json (read by src/ops/version.ts). `npm run build` always builds; with
 * --if-stale only when a source changed since the last build: npm runs that on `npm ci` / `npm
 * install` in a checkout and on `npm pack` (`prepare`) and before `npm start`, so a `git pull` or
 * an edit never starts yesterday's build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { buildConsole } from './build-console.js';
import { BUILD_INFO, buildIsFresh, COMPILED_MAIN, ROOT } from './build-state.js';

// An installed package ships its build and no sources: nothing to do (npm may run `prepare` when
// installing from a tarball).
if (!existsSync(path.join(ROOT, 'src'))) process.exit(0);
if (process.argv.includes('--if-stale') && buildIsFresh()) {
  // The sources are what was built, but HEAD may have moved (a commit that touched only docs):
  // the build is the same code, so only its label changes.
  const recorded = JSON.parse(readFileSync(BUILD_INFO, 'utf8'));
  const commit = gitCommit();
  if (recorded.commit !== commit) writeBuildInfo(commit);
  process.exit(0);
}

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // `npm ci --omit=dev` in a checkout: TypeScript is a dev dependency.
  if (existsSync(COMPILED_MAIN)) {
    process.stderr.write('herald build: TypeScript is not installed; keeping the existing dist/ build\n');
    process.exit(0);
  }
  process.stderr.write('herald build: TypeScript is not installed: run `npm ci` with dev dependencies, or install the packed package (`npm pack`)\n');
  process.exit(1);
}

// A clean build: a renamed or deleted source must not leave its old .js behind.
rmSync(path.join(ROOT, 'dist'), { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
} catch {
  process.stderr.write('herald build: tsc failed (see above); dist/ is not usable\n');
  process.exit(1);
}
try {
  await buildConsole();
} catch (error) {
  process.stderr.write(`herald build: the console pages did not build: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
writeBuildInfo(gitCommit());

function writeBuildInfo(commit) {
  writeFileSync(BUILD_INFO, JSON.stringify({ commit, builtAt: new Date().toISOString() }, null, 2) + '\n');
}

/** The checkout's HEAD commit, or null outside a git checkout (a source tarball) or without git. */
function gitCommit() {
  // Only this checkout's own history: a source tree unpacked inside another repository is not it.
  if (!existsSync(path.join(ROOT, '.git'))) return null;
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim();
    return /^[0-9a-f]{40,64}$/.test(commit) ? commit : null;
  } catch {
    return null;
  }
}
