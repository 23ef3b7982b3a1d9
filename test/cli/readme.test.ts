/**
 * The README as a new user meets it: the accounts snippet runs as pasted against a started Herald
 * (it captures the session token itself), and the files the walkthrough writes stay out of git.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startHerald, type Running } from '../helpers/herald.js';
import { PROJECT_ROOT } from './harness.js';

const run = promisify(execFile);
const README = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');

/** The first ```sh block after the heading. */
function snippetAfter(heading: string): string {
  const section = README.slice(README.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(block?.[1], `a sh block after ${heading}`);
  return block[1];
}

describe("the README's accounts snippet", () => {
  let running: Running;

  before(async () => {
    running = await startHerald({ accounts: { passwordMemoryKiB: 1024, passwordPasses: 1 } });
  });
  after(() => running.stop());

  it('runs as pasted (on this test server’s port) and ends with a push token for the node it added', async () => {
    const port = new URL(running.origin).port;
    const snippet = snippetAfter('## Accounts and tokens in five minutes').replaceAll(':8080', `:${port}`);
    assert.doesNotMatch(snippet, /<[a-zA-Z]+>/, 'no placeholder to fill in by hand');
    // The admin command finds this server's data folder as an operator's would: HERALD_DATA_DIR.
    const { stdout } = await run('bash', ['-e', '-o', 'pipefail', '-c', snippet], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, HERALD_DATA_DIR: running.dataDir },
      timeout: 60_000,
    });
    const lines = stdout.trim().split('\n');
    assert.match(lines[0] ?? '', new RegExp(`^node ws://127\\.0\\.0\\.1:${port}/ serves push`));
    const token = JSON.parse(lines.at(-1) as string) as { id: string; key: string; uid: number; api_endpoint: string };
    assert.equal(token.api_endpoint, `ws://127.0.0.1:${port}/`);
    assert.equal(typeof token.id, 'string');
    assert.equal(typeof token.key, 'string');
  });
});

describe('the files the walkthrough writes', () => {
  it('are ignored by git; the sources are not', async (t) => {
    if (!existsSync(path.join(PROJECT_ROOT, '.git'))) {
      t.diagnostic('not a git checkout: nothing to ignore');
      return;
    }
    const written = ['vapid.json', 'listen.out', 'subscription.json', 'herald-device.json', 'data/herald.db', 'herald-0.1.0.tgz', 'dist/src/app.js'];
    const { stdout } = await run('git', ['check-ignore', '--no-index', ...written], { cwd: PROJECT_ROOT });
    assert.deepEqual(stdout.trim().split('\n'), written);
    const tracked = await run('git', ['check-ignore', '--no-index', 'src/app.ts', 'package.json', 'README.md'], { cwd: PROJECT_ROOT }).catch((error: { code: number }) => error);
    assert.equal((tracked as { code: number }).code, 1, 'git check-ignore exits 1 when nothing is ignored');
  });
});
