/**
 * Accounts and tokens inside a real `Herald` on loopback: the client library does
 * login → assertion → token in one call and the device connects to the node it was given; the
 * whole flow, failures included, leaves no secret in the info-level log.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { run as admin } from '../../src/cli/admin.js';
import { clientStateFor, getServiceToken, IdentityError } from '../../src/client/index.js';
import type { HeraldPart } from '../../src/app.js';
import { RawDevice, startHerald } from '../helpers/herald.js';
import { captureLog } from '../helpers/log.js';

const PASSWORD = 'a long and unusual passphrase';
const NEW_PASSWORD = 'another long and unusual one';
// Cheap argon2 for tests: the cost is not what they check.
const accounts = { passwordMemoryKiB: 1024, passwordPasses: 1 };

describe('accounts and tokens in a running Herald', () => {
  it('a device logs in, gets a token for its node and connects; nothing secret reaches the log', async () => {
    const log = captureLog();
    const running = await startHerald({ accounts }, undefined, { logger: log.logger });
    const { wsUrl: connectionUrl, origin: endpointOrigin, dataDir } = running;
    try {
      assert.equal(await admin(['nodes', 'add', 'push', connectionUrl, '--data-dir', dataDir], () => {}), 0);
      const created = await fetch(`${endpointOrigin}/v1/account/create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'device@example.com', password: PASSWORD }),
      });
      assert.equal(created.status, 201);
      const { uid: accountId } = (await created.json()) as { uid: string };

      const clientState = clientStateFor(Buffer.from('device key'));
      const token = await getServiceToken({ accountsUrl: endpointOrigin, email: 'device@example.com', password: PASSWORD, clientState });
      assert.equal(token.apiEndpoint, connectionUrl);
      const device = await RawDevice.connect(token.apiEndpoint);
      assert.match(await device.hello(), /^[0-9a-f]{32}$/);
      device.close();

      // Failures: a wrong password, a buggy client state, a bad session; then a password change.
      await assert.rejects(getServiceToken({ accountsUrl: endpointOrigin, email: 'device@example.com', password: 'wrong password here' }), (error: unknown) => {
        assert.ok(error instanceof IdentityError);
        assert.equal(error.status, 401);
        return true;
      });
      await assert.rejects(getServiceToken({ accountsUrl: endpointOrigin, sessionToken: token.sessionToken, clientState: 'f'.repeat(32) }), (error: unknown) => {
        assert.ok(error instanceof IdentityError);
        assert.equal(error.reason, 'invalid-client-state');
        return true;
      });
      const assertionResponse = await fetch(`${endpointOrigin}/v1/assertion`, { method: 'POST', headers: { authorization: `Bearer ${token.sessionToken}` } });
      const { assertion } = (await assertionResponse.json()) as { assertion: string };
      const changed = await fetch(`${endpointOrigin}/v1/password/change`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.sessionToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ oldPassword: PASSWORD, newPassword: NEW_PASSWORD }),
      });
      assert.equal(changed.status, 200);
      await fetch(`${endpointOrigin}/v1/profile`, { headers: { authorization: `Bearer ${token.sessionToken}` } });

      const db = new Database(path.join(dataDir, 'accounts.sqlite'), { readonly: true });
      const { password_hash: passwordHash } = db.prepare('SELECT password_hash FROM accounts').get() as { password_hash: string };
      db.close();
      const signing = JSON.parse(readFileSync(path.join(dataDir, 'accounts-signing-keys.json'), 'utf8')) as { keys: Array<{ privateJwk: { d: string } }> };
      const secrets = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as { tokenServer: Array<{ secret: string }> };

      assert.match(log.text(), /Herald listening/);
      for (const [name, value] of Object.entries({
        password: PASSWORD,
        newPassword: NEW_PASSWORD,
        email: 'device@example.com',
        accountId,
        sessionToken: token.sessionToken,
        sessionTokenHash: createHash('sha256').update(Buffer.from(token.sessionToken, 'hex')).digest('hex'),
        passwordHash,
        passwordHashTail: passwordHash.split('$').pop() as string,
        assertion,
        assertionSignature: assertion.split('.')[2] as string,
        serviceToken: token.token,
        serviceKey: token.key,
        hashedUid: token.hashedUid,
        clientState,
        signingKey: signing.keys[0]?.privateJwk.d as string,
        tokenSecret: secrets.tokenServer[0]?.secret as string,
      })) {
        assert.equal(log.text().includes(value), false, `the log contains the ${name}`);
      }
    } finally {
      await running.stop();
    }
  });
});

describe('herald serve --only', () => {
  async function start(only: HeraldPart[]) {
    const running = await startHerald({ accounts }, undefined, { only });
    return { ...running, connectionUrl: running.wsUrl, endpointOrigin: running.origin };
  }
  const create = (origin: string) =>
    fetch(`${origin}/v1/account/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'only@example.com', password: PASSWORD }),
    });

  it('accounts,tokens serves identity without push sockets or endpoints', async () => {
    const running = await start(['accounts', 'tokens']);
    try {
      assert.equal((await create(running.endpointOrigin)).status, 201);
      assert.equal((await fetch(`${running.endpointOrigin}/1.0/push/1.0`)).status, 401);
      assert.equal((await fetch(`${running.endpointOrigin}/wpush/v1/abc`, { method: 'POST', headers: { TTL: '60' } })).status, 404);
      await assert.rejects(RawDevice.connect(running.connectionUrl));
    } finally {
      await running.stop();
    }
  });

  it('push alone answers 404 on the identity routes', async () => {
    const running = await start(['push']);
    try {
      assert.equal((await create(running.endpointOrigin)).status, 404);
      assert.equal((await fetch(`${running.endpointOrigin}/.well-known/jwks.json`)).status, 404);
      const device = await RawDevice.connect(running.connectionUrl);
      assert.match(await device.hello(), /^[0-9a-f]{32}$/);
      device.close();
    } finally {
      await running.stop();
    }
  });
});
