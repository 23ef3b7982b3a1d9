/** `herald admin accounts sso-app …`: a relying app in the identity store, its key in the data folder (docs/sso.md). */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { run as admin } from '../../src/cli/admin.js';

describe('herald admin accounts sso-app', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-sso-cli-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    delete process.env.HERALD_ACCOUNTS_DATABASE;
    const code = await admin(['accounts', 'sso-app', ...argv, '--data-dir', dataDir], (line) => lines.push(line));
    return { code, text: lines.join('\n') };
  };

  it('an operator registers an app, gets its key once, rotates it, lists and removes the app', async () => {
    const added = await run('add', 'app', '--redirect-uri', 'https://app.example/sso/callback', '--origin', 'https://app.example');
    assert.equal(added.code, 0);
    const [, cipherId] = /cipherId ([0-9a-f]{16}) key ([A-Za-z0-9_-]{43})/.exec(added.text) ?? [];
    assert.ok(cipherId);
    const file = path.join(dataDir, 'sso-app-keys.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const rotated = await run('rotate-key', 'app');
    assert.equal(rotated.code, 0);
    const ring = (JSON.parse(readFileSync(file, 'utf8')) as { apps: Record<string, Array<{ cipherId: string }>> }).apps.app ?? [];
    assert.equal(ring.length, 2);
    assert.equal(ring[1]?.cipherId, cipherId, 'the earlier key is kept after the new one');
    assert.match((await run('list')).text, /^app\thttps:\/\/app\.example\thttps:\/\/app\.example\/sso\/callback$/);
    assert.equal((await run('remove', 'app')).code, 0);
    assert.match((await run('list')).text, /no SSO apps/);
  });

  it('refuses an origin with a path, a plain-http redirect on a public name, and a taken client id', async () => {
    await assert.rejects(run('add', 'x', '--redirect-uri', 'https://x.example/cb', '--origin', 'https://x.example/path'), /origin only/);
    await assert.rejects(run('add', 'x', '--redirect-uri', 'http://x.example/cb', '--origin', 'https://x.example'), /must be https/);
    assert.equal((await run('add', 'y', '--redirect-uri', 'http://y.test/cb', '--origin', 'http://y.test')).code, 0);
    await assert.rejects(run('add', 'y', '--redirect-uri', 'http://y.test/cb', '--origin', 'http://y.test'), /already exists/);
  });
});
