/**
 * push.deviceAuth = "token" (docs/security.md, threat 2): a hello must carry a token-server service
 * token, and a device answers only to the user it registered under. Knowing a victim's uaid is
 * no longer enough to drain its messages; a retired user's devices are dropped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { run as admin } from '../../src/cli/admin.js';
import { PushDevice } from '../../src/client/device.js';
import { clientStateFor, getServiceToken } from '../../src/client/index.js';
import { sendNotification } from '../../src/client/sender.js';
import { loadOrCreateSecrets } from '../../src/config/secrets.js';
import { generateRingKey } from '../../src/crypto/keyring.js';
import { makeToken } from '../../src/crypto/service-token.js';
import { CHANNEL_A, RawDevice, startHerald, type Running } from '../helpers/herald.js';

const PASSWORD = 'a long and unusual passphrase';

describe('device authentication with token-server tokens', () => {
  let running: Running;

  async function account(email: string): Promise<void> {
    const created = await fetch(`${running.origin}/v1/account/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    assert.equal(created.status, 201, await created.text());
  }

  async function tokenFor(email: string, clientState: string, password = PASSWORD): Promise<string> {
    return (await getServiceToken({ accountsUrl: running.origin, email, password, clientState })).token;
  }

  /** A message POSTed to an open (v1) endpoint without a body. */
  async function push(endpoint: string): Promise<number> {
    return (await fetch(endpoint, { method: 'POST', headers: { TTL: '600' } })).status;
  }

  async function refusedHello(frame: Record<string, unknown>): Promise<{ error: unknown; code: number }> {
    const device = await RawDevice.connect(running.wsUrl);
    device.send({ messageType: 'hello', use_webpush: true, ...frame });
    const answer = await device.next('hello');
    assert.equal(answer.status, 401);
    assert.equal(answer.uaid, undefined, 'a refused hello names no uaid');
    const { code } = await device.closed;
    return { error: answer.error, code };
  }

  before(async () => {
    running = await startHerald({ push: { deviceAuth: 'token' }, accounts: { passwordMemoryKiB: 1024, passwordPasses: 1 } });
    assert.equal(await admin(['nodes', 'add', 'push', running.wsUrl, '--data-dir', running.dataDir], () => {}), 0);
    await account('alice@example.com');
    await account('mallory@example.com');
  });
  after(async () => {
    await running.stop();
  });

  it('a hello without a token, with a malformed, forged, expired or other-node token is refused and the socket closes', async () => {
    const { secrets } = loadOrCreateSecrets(running.dataDir);
    const payload = { uid: 1, node: running.wsUrl, expires: Math.floor(Date.now() / 1000) + 600, hashed_uid: '0'.repeat(32) };
    const cases: Array<[string, unknown, RegExp]> = [
      ['no token', undefined, /needs a service token/],
      ['a number', 42, /must be a string/],
      ['garbage', 'not a token', /invalid or expired/],
      ['forged (another secret)', makeToken([generateRingKey(1)], payload).id, /invalid or expired/],
      ['expired', makeToken(secrets.tokenServer, { ...payload, expires: Math.floor(Date.now() / 1000) - 1 }).id, /invalid or expired/],
      ['for another node', makeToken(secrets.tokenServer, { ...payload, node: 'wss://elsewhere.example:443/' }).id, /another node/],
    ];
    for (const [what, token, reason] of cases) {
      const { error, code } = await refusedHello(token === undefined ? {} : { token });
      assert.match(String(error), reason, what);
      assert.equal(code, 1011, what);
    }
  });

  it("a device keeps its uaid and messages with its user's token; another user's token with that uaid gets a fresh uaid and nothing", async () => {
    const alice = await tokenFor('alice@example.com', clientStateFor(Buffer.from('alice key 1')));
    const mallory = await tokenFor('mallory@example.com', clientStateFor(Buffer.from('mallory key')));

    const device = await RawDevice.connect(running.wsUrl);
    device.send({ messageType: 'hello', use_webpush: true, token: alice });
    const uaid = String((await device.next('hello')).uaid);
    const endpoint = await device.register(CHANNEL_A);
    device.close();
    await device.closed;
    assert.equal(await push(endpoint), 201, 'stored while alice is away');

    // Mallory learned alice's uaid: she gets a fresh one and no message.
    const thief = await RawDevice.connect(running.wsUrl);
    thief.send({ messageType: 'hello', use_webpush: true, uaid, token: mallory });
    const stolen = await thief.next('hello');
    assert.equal(stolen.status, 200);
    assert.notEqual(stolen.uaid, uaid);
    await assert.rejects(thief.next('notification', 500), 'no message of alice reaches mallory');
    thief.close();

    // Alice comes back with her own token: same uaid, and the message is still there.
    const back = await RawDevice.connect(running.wsUrl);
    back.send({ messageType: 'hello', use_webpush: true, uaid, token: alice });
    assert.equal((await back.next('hello')).uaid, uaid);
    const notification = await back.next('notification');
    back.ack(notification);
    back.close();
  });

  it("a client-state change retires the user's uid: its old device and stored messages are dropped", async () => {
    await account('carol@example.com');
    const first = await tokenFor('carol@example.com', clientStateFor(Buffer.from('carol key 1')));
    const device = await RawDevice.connect(running.wsUrl);
    device.send({ messageType: 'hello', use_webpush: true, token: first });
    const uaid = String((await device.next('hello')).uaid);
    const endpoint = await device.register(CHANNEL_A);
    device.close();
    await device.closed;
    assert.equal(await push(endpoint), 201);
    assert.equal(await (await running.store()).countMessages(uaid, Date.now()), 1);

    // A new key needs a password change first (a strictly higher generation), then a new state.
    const { sessionToken } = await getServiceToken({ accountsUrl: running.origin, email: 'carol@example.com', password: PASSWORD, clientState: clientStateFor(Buffer.from('carol key 1')) });
    const changed = await fetch(`${running.origin}/v1/password/change`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sessionToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ oldPassword: PASSWORD, newPassword: `${PASSWORD} 2` }),
    });
    assert.equal(changed.status, 200, await changed.text());
    const second = await tokenFor('carol@example.com', clientStateFor(Buffer.from('carol key 2')), `${PASSWORD} 2`);

    assert.equal(await (await running.store()).getDevice(uaid), null, 'the retired uid took its device along');
    assert.equal(await (await running.store()).countMessages(uaid, Date.now()), 0);
    assert.equal(await push(endpoint), 410, 'senders learn the subscription is gone');

    // The device, with its new token, starts over under a fresh uaid.
    const fresh = await RawDevice.connect(running.wsUrl);
    fresh.send({ messageType: 'hello', use_webpush: true, uaid, token: second });
    assert.notEqual((await fresh.next('hello')).uaid, uaid);
    fresh.close();
  });

  it('the client library fetches a token for each connection and receives through it', async () => {
    let asked = 0;
    const device = new PushDevice({
      serverUrl: running.wsUrl,
      serviceToken: async () => {
        asked += 1;
        return tokenFor('alice@example.com', clientStateFor(Buffer.from('alice key 1')));
      },
    });
    try {
      await device.connect();
      const subscription = await device.register();
      const received = new Promise<Buffer | null>((resolve) => device.once('notification', (message) => resolve(message.payload)));
      const result = await sendNotification(subscription, 'hello through a token');
      assert.equal(result.status, 201);
      assert.equal((await received)?.toString(), 'hello through a token');
      assert.equal(asked, 1);
    } finally {
      await device.close();
    }
  });
});
