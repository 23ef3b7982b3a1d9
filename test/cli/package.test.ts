/**
 * The installable package: `npm pack` in the checkout, `npm install -g` of the tarball into a
 * clean prefix, and the `herald` command it puts on the PATH serves a healthy heartbeat, with
 * compiled JavaScript only (no TypeScript, no tsx, no dev dependency in the installed tree).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { finished, healthy, PROJECT_ROOT, tempDir } from './harness.js';

const run = promisify(execFile);
const DEV_ONLY = ['tsx', 'typescript', 'esbuild', 'web-push', 'mqtt', '@types'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function gitHead(): Promise<string | null> {
  if (!existsSync(path.join(PROJECT_ROOT, '.git'))) return null;
  return (await run('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT })).stdout.trim();
}

describe('the npm package', { timeout: 240_000 }, () => {
  const folder = tempDir('herald-package-');
  const prefix = path.join(folder.dir, 'prefix');
  const installed = path.join(prefix, 'lib', 'node_modules', 'herald');
  const command = path.join(prefix, 'bin', 'herald');
  let packed: { filename: string; files: Array<{ path: string }> };

  before(async () => {
    // `npm pack` runs `prepare` (bin/build.js --if-stale): the tarball holds a build of these sources.
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', folder.dir], { cwd: PROJECT_ROOT, maxBuffer: 16 << 20 });
    const [result] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<typeof packed>;
    assert.ok(result, stdout);
    packed = result;

    // better-sqlite3 was compiled by `npm ci`; hand that binary to the install as a local prebuild
    // (prebuild-install's --local-prebuilds), so this test measures the packaging, not a second
    // compile of SQLite. argon2 ships its prebuilt binaries.
    const prebuilds = path.join(folder.dir, 'prebuilds');
    mkdirSync(prebuilds);
    const sqlite = path.join(PROJECT_ROOT, 'node_modules', 'better-sqlite3');
    const { version } = JSON.parse(readFileSync(path.join(sqlite, 'package.json'), 'utf8')) as { version: string };
    const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    await run('tar', ['-czf', path.join(prebuilds, name), '-C', sqlite, 'build/Release/better_sqlite3.node']);

    await run(
      'npm',
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--allow-scripts=better-sqlite3,argon2', path.join(folder.dir, packed.filename)],
      { cwd: folder.dir, env: { ...process.env, npm_config_better_sqlite3_local_prebuilds: prebuilds }, maxBuffer: 16 << 20 },
    );
  });
  after(() => folder.remove());

  it('holds the build, the command, the README, the sample configuration, docs and contrib, and no sources or tests', () => {
    const files = packed.files.map((file) => file.path);
    for (const expected of ['dist/src/cli/main.js', 'dist/src/app.js', 'dist/build-info.json', 'bin/herald.js', 'README.md', 'herald.sample.toml', 'docs/protocol.md', 'contrib/herald.service', 'package.json']) {
      assert.ok(files.includes(expected), `${expected} is in the package`);
    }
    const strays = files.filter((file) => /^(src|test|bench)\//.test(file) || file.endsWith('.ts') || file.startsWith('tsconfig'));
    assert.deepEqual(strays, [], 'no TypeScript sources, tests or benchmarks');
  });

  it('installs with no dev dependency, and its herald command names the commit it was built from', async () => {
    const modules = readdirSync(path.join(installed, 'node_modules'));
    assert.deepEqual(modules.filter((name) => DEV_ONLY.includes(name)), []);
    assert.ok(!existsSync(path.join(installed, 'src')));
    const { stdout } = await run(command, ['--version']);
    const head = await gitHead();
    assert.equal(stdout, `herald 0.1.0 (commit ${head ?? 'v0.1.0'})\n`);
    const help = await run(command, ['serve', '--help']);
    assert.match(help.stdout, /^herald serve\n/);
  });

  it('starts from the installed command and answers a healthy heartbeat, then stops on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = path.join(folder.dir, 'data');
    const server = spawn(command, ['serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], { cwd: folder.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = finished(server);
    try {
      const heartbeat = await healthy(`http://127.0.0.1:${port}/__heartbeat__`, () => server.exitCode === null).catch(async (error: unknown) => {
        server.kill('SIGKILL');
        throw new Error(`${String(error)}; output: ${JSON.stringify(await exit)}`);
      });
      assert.deepEqual(heartbeat, { status: 'OK', storage: 'OK', bus: 'LOCAL', limits: 'LOCAL' });
    } finally {
      server.kill('SIGTERM');
    }
    const { code, stderr } = await exit;
    assert.equal(code, 0, stderr);
  });

  it('without a recorded build commit, reports the release tag as its commit', async () => {
    rmSync(path.join(installed, 'dist', 'build-info.json'));
    const { stdout } = await run(command, ['--version'], { env: { ...process.env, SOURCE_COMMIT: '' } });
    assert.equal(stdout, 'herald 0.1.0 (commit v0.1.0)\n');
  });
});
