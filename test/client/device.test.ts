/**
 * The client library against a real Herald on loopback: a PushDevice registers, sendNotification
 * encrypts and signs, the device decrypts and acks, and the message leaves storage.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PushDevice, type PushMessage } from '../../src/client/device.js';
import { sendNotification, type VapidDetails } from '../../src/client/sender.js';
import { SubscriptionError } from '../../src/client/subscription.js';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { startHerald, type Running } from '../helpers/herald.js';
import { collect, deviceFor, nextEvent, tempDir } from './harness.js';
import { waitFor } from '../helpers/wait.js';

const pair = generateVapidKeyPair();
const vapid: VapidDetails = { publicKey: pair.publicKey, privateKey: pair.privateKey, subject: 'mailto:ops@example.com' };

async function storedCount(running: Running, uaid: string): Promise<number> {
  return (await running.store()).countMessages(uaid, Date.now());
}

describe('a device and a sender through Herald', () => {
  let running: Running;
  let device: PushDevice;
  const state = tempDir();

  before(async () => {
    running = await startHerald();
    device = new PushDevice({ serverUrl: running.wsUrl, stateFile: path.join(state.dir, 'device.json') });
    await device.connect();
  });
  after(async () => {
    await device.close();
    await running.stop();
    state.remove();
  });

  const cases = [
    { version: 'v1', encoding: 'aes128gcm', withVapid: false },
    { version: 'v1', encoding: 'aesgcm', withVapid: false },
    { version: 'v1', encoding: 'aes128gcm', withVapid: true },
    { version: 'v1', encoding: 'aesgcm', withVapid: true },
    { version: 'v2', encoding: 'aes128gcm', withVapid: true },
    { version: 'v2', encoding: 'aesgcm', withVapid: true },
  ] as const;

  for (const testCase of cases) {
    const name = `${testCase.encoding} to a ${testCase.version} endpoint ${testCase.withVapid ? 'with' : 'without'} VAPID`;
    it(`${name}: the device gets the text decrypted and the message leaves storage`, async () => {
      const subscription = await device.register(testCase.version === 'v2' ? { senderKey: vapid.publicKey } : {});
      assert.match(subscription.endpoint, new RegExp(`^${running.origin}/wpush/${testCase.version}/`));
      assert.equal(subscription.expirationTime, null);
      assert.equal(Buffer.from(subscription.keys.p256dh, 'base64url').length, 65);
      assert.equal(Buffer.from(subscription.keys.auth, 'base64url').length, 16);

      const text = `hello, ${name} ✓`;
      const arrival = nextEvent(device, 'notification');
      const result = await sendNotification(subscription, text, {
        ttl: 60,
        encoding: testCase.encoding,
        ...(testCase.withVapid ? { vapid } : {}),
      });
      assert.equal(result.status, 201, result.body);
      assert.match(result.location ?? '', new RegExp(`^${running.origin}/m/`));
      assert.equal(result.ttl, '60');

      const message = await arrival;
      assert.equal(message.payload?.toString('utf8'), text);
      assert.equal(message.headers.encoding, testCase.encoding);
      const uaid = device.uaid as string;
      await waitFor(async () => (await storedCount(running, uaid)) === 0, 3000, 'the acked message to leave storage');
    });
  }

  it('a v2 endpoint refuses a sender without the bound VAPID key', async () => {
    const subscription = await device.register({ senderKey: vapid.publicKey });
    const other = generateVapidKeyPair();
    const unsigned = await sendNotification(subscription, 'no signature', { ttl: 60 });
    assert.equal(unsigned.status, 401);
    const wrongKey = await sendNotification(subscription, 'wrong key', { ttl: 60, vapid: { ...other, subject: 'mailto:x@example.com' } });
    assert.equal(wrongKey.status, 401);
    assert.equal((JSON.parse(wrongKey.body) as { errno: number }).errno, 109);
  });

  it('a message without a payload arrives with a null payload', async () => {
    const subscription = await device.register();
    const arrival = nextEvent(device, 'notification');
    const result = await sendNotification(subscription.endpoint, null, { ttl: 60 });
    assert.equal(result.status, 201, result.body);
    const message = await arrival;
    assert.equal(message.payload, null);
  });

  it('text for a subscription without keys is refused before anything is sent', async () => {
    const subscription = await device.register();
    await assert.rejects(sendNotification(subscription.endpoint, 'secret', { ttl: 60 }), SubscriptionError);
    await assert.rejects(sendNotification({ endpoint: subscription.endpoint, keys: { p256dh: subscription.keys.p256dh } }, 'secret'), /keys/);
  });

  it('an unregistered channel is gone for its sender and from the state file', async () => {
    const subscription = await device.register();
    const channelID = device.channels().find((channel) => channel.subscription.endpoint === subscription.endpoint)?.channelID as string;
    await device.unregister(channelID);
    assert.equal(device.channels().some((channel) => channel.channelID === channelID), false);
    const result = await sendNotification(subscription, 'too late', { ttl: 60 });
    assert.equal(result.status, 410, result.body);
  });

  it('the state file is readable by its owner only', () => {
    assert.equal(statSync(path.join(state.dir, 'device.json')).mode & 0o777, 0o600);
  });
});

describe('a device that goes away and comes back', () => {
  it('keeps its uaid through the state file and receives what was sent while it was offline', async (t) => {
    const running = await startHerald();
    const folder = tempDir();
    const stateFile = path.join(folder.dir, 'device.json');
    try {
      const first = deviceFor(t, { serverUrl: running.wsUrl, stateFile });
      const { uaid } = await first.connect();
      const subscription = await first.register();
      await first.close();

      const result = await sendNotification(subscription, 'while you were away', { ttl: 300 });
      assert.equal(result.status, 201, result.body);
      assert.equal(await storedCount(running, uaid), 1);

      const second = deviceFor(t, { serverUrl: running.wsUrl, stateFile });
      const resets = collect(second, 'reset');
      const arrival = nextEvent(second, 'notification');
      assert.deepEqual(await second.connect(), { uaid });
      const message = await arrival;
      assert.equal(message.payload?.toString(), 'while you were away');
      await waitFor(async () => (await storedCount(running, uaid)) === 0, 3000, 'the message to be acked');
      assert.deepEqual(resets, []);
      await second.close();
    } finally {
      await running.stop();
      folder.remove();
    }
  });

  it('reconnects by itself after Herald restarts on the same port, and messages still arrive', async (t) => {
    let running = await startHerald();
    const port = running.herald.listeners.connectionPort;
    const dataDir = running.dataDir;
    const device = deviceFor(t, { serverUrl: running.wsUrl, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    try {
      const { uaid } = await device.connect();
      const subscription = await device.register();
      const disconnected = nextEvent(device, 'disconnected');
      await running.stop({ keepData: true });
      assert.notEqual((await disconnected).reconnectInMs, null);

      const reconnected = nextEvent(device, 'connected', 10_000);
      running = await startHerald({ server: { port } }, dataDir);
      assert.deepEqual(await reconnected, { uaid });

      const arrival = nextEvent(device, 'notification');
      const result = await sendNotification(subscription, 'after the restart', { ttl: 60 });
      assert.equal(result.status, 201, result.body);
      assert.equal((await arrival).payload?.toString(), 'after the restart');
    } finally {
      await device.close();
      await running.stop();
    }
  });

  it('drops its channels when the server no longer knows its uaid', async (t) => {
    const first = await startHerald();
    const folder = tempDir();
    const stateFile = path.join(folder.dir, 'device.json');
    let second: Running | undefined;
    try {
      const device = deviceFor(t, { serverUrl: first.wsUrl, stateFile });
      const { uaid: oldUaid } = await device.connect();
      await device.register();
      await device.close();
      await first.stop();

      // A brand-new Herald (new data folder) has never heard of this device.
      second = await startHerald();
      const again = deviceFor(t, { serverUrl: second.wsUrl, stateFile });
      const reset = nextEvent(again, 'reset');
      const { uaid } = await again.connect();
      const event = await reset;
      assert.notEqual(uaid, oldUaid);
      assert.equal(event.reason, 'uaid-changed');
      assert.equal(event.previousUaid, oldUaid);
      assert.equal(event.droppedChannels.length, 1);
      assert.deepEqual(again.channels(), []);
      await again.close();
    } finally {
      await second?.stop();
      folder.remove();
    }
  });

  it('starts over with a new uaid when Herald resets it for going past msg_limit', async (t) => {
    const running = await startHerald({ push: { msgLimit: 2 } });
    const device = deviceFor(t, { serverUrl: running.wsUrl, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    try {
      const { uaid: oldUaid } = await device.connect();
      // Two apps: one subscription may hold at most msg_limit messages (guard), so only the
      // device's backlog as a whole can go past it.
      const subscription = await device.register();
      const other = await device.register();
      await device.close();
      for (const text of ['one', 'two']) {
        assert.equal((await sendNotification(subscription, text, { ttl: 300 })).status, 201);
      }
      assert.equal((await sendNotification(other, 'three', { ttl: 300 })).status, 201);

      const messages: PushMessage[] = collect(device, 'notification');
      const reset = nextEvent(device, 'reset');
      const connections = collect(device, 'connected');
      await device.connect();
      const event = await reset;
      assert.equal(event.reason, 'server-reset');
      assert.equal(event.previousUaid, oldUaid);
      assert.equal(event.droppedChannels.length, 2);
      await waitFor(() => connections.length === 2, 5000, 'the reconnect after the reset');
      assert.notEqual(connections[1]?.uaid, oldUaid);
      assert.deepEqual(device.channels(), []);
      assert.ok(messages.length <= 2);
    } finally {
      await device.close();
      await running.stop();
    }
  });
});
