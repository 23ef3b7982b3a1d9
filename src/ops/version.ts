import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * What `/__version__` and `herald --version` report. The commit is, in order: SOURCE_COMMIT (set by
 * a deployment that builds elsewhere), the HEAD of the checkout Herald runs in (from the sources,
 * or from a build bin/herald.js found fresh), the commit dist/build-info.json recorded when an
 * installed package was built (bin/build.js), else the release tag `v<version>`: the answer always
 * names something a reader can find in the repository.
 */

// From src/ops/ (sources through tsx) the package root is two folders up; from dist/src/ops/ three.
const packageRoot = [new URL('../../', import.meta.url), new URL('../../../', import.meta.url)].find((root) =>
  existsSync(new URL('package.json', root)),
);
if (packageRoot === undefined) throw new Error(`cannot find Herald's package.json above ${import.meta.url}`);

const packageJson = JSON.parse(readFileSync(new URL('package.json', packageRoot), 'utf8')) as { name: string; version: string };

let commit: string | undefined;

/** Resolved on first use, so a start that never reads it never runs git. */
function resolveCommit(): string {
  return process.env.SOURCE_COMMIT || checkoutCommit() || builtCommit() || `v${packageJson.version}`;
}

/** The commit bin/build.js recorded next to the compiled code (dist/build-info.json). */
function builtCommit(): string | null {
  // Two folders up from dist/src/ops/ is dist/; from src/ops/ it is the root, which has no such file.
  const file = new URL('../../build-info.json', import.meta.url);
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as { commit?: unknown };
    return typeof info.commit === 'string' && /^[0-9a-f]{40,64}$/.test(info.commit) ? info.commit : null;
  } catch {
    return null;
  }
}

/** HEAD of the checkout the sources run from; null without git or outside a checkout. */
function checkoutCommit(): string | null {
  if (packageRoot === undefined || !existsSync(new URL('.git', packageRoot))) return null;
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    const text = head.toString().trim();
    return /^[0-9a-f]{40,64}$/.test(text) ? text : null;
  } catch {
    return null;
  }
}

export const VERSION_INFO = {
  name: packageJson.name,
  version: packageJson.version,
  source: 'https://github.com/herald-push/herald',
  get commit(): string {
    commit ??= resolveCommit();
    return commit;
  },
};
