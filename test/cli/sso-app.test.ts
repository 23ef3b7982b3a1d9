/**
 * `herald admin accounts sso-app …`: a relying app in the identity store, its key in the data folder,
 * and where it is told of sign-outs (`--backchannel-logout-uri`; docs/sso.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openIdentityStore } from '../../src/accounts/open-store.js';
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

  it('is stored with the app and listed; without it the app is not told', async () => {
    const common = ['--redirect-uri', 'https://app.example/sso/callback', '--origin', 'https://app.example'];
    assert.equal((await run('add', 'told', ...common, '--backchannel-logout-uri', 'https://app.example/sso/backchannel-logout')).code, 0);
    assert.equal((await run('add', 'untold', ...common)).code, 0);
    assert.match((await run('list')).text, /^told\thttps:\/\/app\.example\thttps:\/\/app\.example\/sso\/callback\thttps:\/\/app\.example\/sso\/backchannel-logout$/m);
    assert.match((await run('list')).text, /^untold\thttps:\/\/app\.example\thttps:\/\/app\.example\/sso\/callback$/m);
    const store = await openIdentityStore('accounts.sqlite', dataDir);
    try {
      assert.equal((await store.sso.appById('told'))?.backchannelLogoutUri, 'https://app.example/sso/backchannel-logout');
      assert.equal((await store.sso.appById('untold'))?.backchannelLogoutUri, null);
    } finally {
      await store.close();
    }
  });

  it('must be https (http only on loopback and .test names), like the redirect URI', async () => {
    const common = ['--redirect-uri', 'https://z.example/cb', '--origin', 'https://z.example'];
    await assert.rejects(run('add', 'z', ...common, '--backchannel-logout-uri', 'http://z.example/bc'), /backchannel-logout-uri must be https/);
    await assert.rejects(run('add', 'z', ...common, '--backchannel-logout-uri', 'not a url'), /must be an absolute URL/);
  });
});
