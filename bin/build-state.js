// Whether dist/ holds a build of the current sources. Plain JavaScript: it runs before any build.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const COMPILED_MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** Written last by bin/build.js: its presence says the build finished, its mtime says when. */
export const BUILD_INFO = path.join(ROOT, 'dist', 'build-info.json');

/**
 * An installed package ships dist/ without src/: its build is what there is. In a checkout the
 * build is fresh when no source, tsconfig or package.json changed after it (a `git pull` or an
 * edit makes it stale, and then the sources are what should run).
 */
export function buildIsFresh() {
  if (!existsSync(COMPILED_MAIN)) return false;
  const sources = path.join(ROOT, 'src');
  if (!existsSync(sources)) return true;
  if (!existsSync(BUILD_INFO)) return false;
  const builtAt = statSync(BUILD_INFO).mtimeMs;
  const inputs = ['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((name) => path.join(ROOT, name));
  return newestMtime(sources, inputs) <= builtAt;
}

function newestMtime(folder, extraFiles) {
  let newest = 0;
  for (const file of extraFiles) {
    if (existsSync(file)) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  walk(folder);
  return newest;
}
