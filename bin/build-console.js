#!/usr/bin/env node
/**
 * Builds the web console's pages (src/console/ui/, Preact) with Vite into dist/console/, the
 * static files src/console/part.ts serves as they are. Run by bin/build.js after tsc, and by
 * `npm test` with --if-missing (a checkout whose build predates the console).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './build-state.js';

export const CONSOLE_SOURCES = path.join(ROOT, 'src', 'console', 'ui');
export const CONSOLE_BUILD = path.join(ROOT, 'dist', 'console');

export async function buildConsole() {
  let vite;
  let preact;
  try {
    vite = await import('vite');
    preact = (await import('@preact/preset-vite')).default;
  } catch {
    // `npm ci --omit=dev` in a checkout: Vite is a dev dependency.
    process.stderr.write('herald build: Vite is not installed; the console pages are not rebuilt\n');
    return false;
  }
  await vite.build({
    root: CONSOLE_SOURCES,
    base: '/console/',
    configFile: false,
    logLevel: 'warn',
    plugins: [preact()],
    build: { outDir: CONSOLE_BUILD, emptyOutDir: true, assetsDir: 'assets', sourcemap: false, modulePreload: { polyfill: false } },
  });
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--if-missing') && existsSync(path.join(CONSOLE_BUILD, 'index.html'))) process.exit(0);
  const built = await buildConsole();
  if (!built && !existsSync(path.join(CONSOLE_BUILD, 'index.html'))) process.exit(1);
}
