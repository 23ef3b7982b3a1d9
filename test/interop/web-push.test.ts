/**
 * Interop: the npm `web-push` library, unmodified, is the application server. Its requests go to
 * Herald over HTTP; a raw `ws` device receives, decrypts with the subscription's keys, and acks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import webpush from 'web-push';
import { PushDevice } from '../../src/client/device.js';
import { decryptAes128gcm, decryptAesgcm } from '../../src/crypto/ece.js';
import { nextEvent } from '../client/harness.js';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald, type Frame, type Running } from '../helpers/herald.js';
import { newSubscriber, sendWithWebPush } from '../helpers/sender.js';
import { waitFor } from '../helpers/wait.js';

const vapidKeys = webpush.generateVAPIDKeys();
const vapidDetails = { subject: 'mailto:ops@example.com', publicKey: vapidKeys.publicKey, privateKey: vapidKeys.privateKey };
const { uaKeys, authSecret, keys } = newSubscriber();

/** web-push's request to the raw device's subscription: `endpoint` with these keys. */
const sendToDevice = (endpoint: string, payload: string, options: webpush.RequestOptions) => sendWithWebPush({ endpoint, keys }, payload, options);

function decrypt(notification: Frame): string {
  const body = Buffer.from(notification.data as string, 'base64url');
  const headers = notification.headers as { encoding: string; encryption?: string; crypto_key?: string };
  if (headers.encoding === 'aes128gcm') return decryptAes128gcm({ body, uaKeys, authSecret }).toString();
  const salt = /salt=([^;,]+)/.exec(headers.encryption ?? '')?.[1] ?? '';
  const dh = /dh=([^;,]+)/.exec(headers.crypto_key ?? '')?.[1] ?? '';
  return decryptAesgcm({ body, salt, dh, uaKeys, authSecret }).toString();
}

describe('interop: web-push sends, a raw ws device receives', () => {
  let running: Running;
  let device: RawDevice;
  let uaid: string;
  let v1: string;
  let v2: string;

  before(async () => {
    running = await startHerald();
    device = await RawDevice.connect(running.wsUrl);
    uaid = await device.hello();
    v1 = await device.register(CHANNEL_A);
    v2 = await device.register(CHANNEL_B, vapidKeys.publicKey);
  });
  after(async () => {
    device.close();
    await running.stop();
  });

  const cases: Array<{ name: string; version: 'v1' | 'v2'; encoding: 'aes128gcm' | 'aesgcm'; withVapid: boolean }> = [
    { name: 'aes128gcm on v2 (vapid t=, k=)', version: 'v2', encoding: 'aes128gcm', withVapid: true },
    { name: 'aesgcm on v2 (WebPush + Crypto-Key p256ecdsa)', version: 'v2', encoding: 'aesgcm', withVapid: true },
    { name: 'aes128gcm on v1 with VAPID', version: 'v1', encoding: 'aes128gcm', withVapid: true },
    { name: 'aesgcm on v1 with VAPID', version: 'v1', encoding: 'aesgcm', withVapid: true },
    { name: 'aes128gcm on v1 without VAPID', version: 'v1', encoding: 'aes128gcm', withVapid: false },
    { name: 'aesgcm on v1 without VAPID', version: 'v1', encoding: 'aesgcm', withVapid: false },
  ];

  for (const testCase of cases) {
    it(`${testCase.name}: delivered, decrypted, acked, gone from storage`, async () => {
      const endpoint = testCase.version === 'v1' ? v1 : v2;
      const text = `hello via ${testCase.name}`;
      const response = await sendToDevice(endpoint, text, {
        TTL: 120,
        contentEncoding: testCase.encoding,
        ...(testCase.withVapid ? { vapidDetails } : {}),
      });
      assert.equal(response.status, 201, await response.text());
      const notification = await device.next('notification');
      assert.equal(notification.channelID, testCase.version === 'v1' ? CHANNEL_A : CHANNEL_B);
      assert.equal(decrypt(notification), text);
      device.ack(notification);
      await waitFor(async () => (await (await running.store()).countMessages(uaid, Date.now())) === 0, 2000, 'the acked message to leave storage');
    });
  }

  it('a message stored while the device was away is decrypted after it reconnects', async () => {
    device.close();
    await device.closed;
    const response = await sendToDevice(v2, 'while you were away', { TTL: 600, vapidDetails, topic: 'away', urgency: 'high' });
    assert.equal(response.status, 201);
    device = await RawDevice.connect(running.wsUrl);
    assert.equal(await device.hello(uaid), uaid);
    const notification = await device.next('notification');
    assert.equal(decrypt(notification), 'while you were away');
    device.ack(notification);
    await waitFor(async () => (await (await running.store()).countMessages(uaid, Date.now())) === 0, 2000, 'the acked message to leave storage');
  });

  it('web-push VAPID signed for another key is refused on v2 (401 errno 109)', async () => {
    const stranger = webpush.generateVAPIDKeys();
    const response = await sendToDevice(v2, 'spoof', {
      TTL: 60,
      vapidDetails: { subject: 'mailto:x@example.com', publicKey: stranger.publicKey, privateKey: stranger.privateKey },
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { errno: number }).errno, 109);
  });
});

describe('interop: web-push sends, Herald\'s own client library receives', () => {
  let running: Running;
  let device: PushDevice;
  const state = mkdtempSync(path.join(tmpdir(), 'herald-interop-'));

  before(async () => {
    running = await startHerald();
    device = new PushDevice({ serverUrl: running.wsUrl, stateFile: path.join(state, 'device.json') });
    await device.connect();
  });
  after(async () => {
    await device.close();
    await running.stop();
    rmSync(state, { recursive: true, force: true });
  });

  for (const encoding of ['aes128gcm', 'aesgcm'] as const) {
    for (const version of ['v1', 'v2'] as const) {
      it(`${encoding} to a ${version} subscription: PushDevice decrypts it and acks`, async () => {
        const subscription = await device.register(version === 'v2' ? { senderKey: vapidKeys.publicKey } : {});
        const text = `web-push → PushDevice, ${encoding}, ${version}`;
        const arrival = nextEvent(device, 'notification');
        const response = await sendWithWebPush(subscription, text, { TTL: 60, contentEncoding: encoding, vapidDetails });
        assert.equal(response.status, 201, await response.text());
        const message = await arrival;
        assert.equal(message.payload?.toString('utf8'), text);
        await waitFor(async () => (await (await running.store()).countMessages(device.uaid as string, Date.now())) === 0, 2000, 'the acked message to leave storage');
      });
    }
  }
});
