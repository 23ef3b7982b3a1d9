/** `herald admin accounts sso-app add --backchannel-logout-uri`: where an app is told of sign-outs (docs/sso.md). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openIdentityStore } from '../../src/accounts/open-store.js';
import { run as admin } from '../../src/cli/admin.js';

describe('herald admin accounts sso-app: the back-channel logout URI', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-sso-bc-cli-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    delete process.env.HERALD_ACCOUNTS_DATABASE;
    const code = await admin(['accounts', 'sso-app', ...argv, '--data-dir', dataDir], (line) => lines.push(line));
    return { code, text: lines.join('\n') };
  };

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
    const common = ['--redirect-uri', 'https://x.example/cb', '--origin', 'https://x.example'];
    await assert.rejects(run('add', 'x', ...common, '--backchannel-logout-uri', 'http://x.example/bc'), /backchannel-logout-uri must be https/);
    await assert.rejects(run('add', 'x', ...common, '--backchannel-logout-uri', 'not a url'), /must be an absolute URL/);
  });
});
