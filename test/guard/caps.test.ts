/**
 * Threat 3, caps: connections per source, registrations per device, stored messages and stored
 * payload bytes per device, and the socket frame size. Each cap refuses with its documented answer
 * and lets the device or sender go on once there is room again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald, subscribedDevice, type Running } from '../helpers/herald.js';
import { expectLimited, expectStatus, newSubscriber, post } from '../helpers/sender.js';
import { waitFor } from '../helpers/wait.js';

const CHANNEL_C = '9c8b7a6f-5e4d-4c3b-8a29-1f0e9d8c7b6a';
const subscriber = newSubscriber();
const encrypted = (bytes: number) => subscriber.encrypt(Buffer.alloc(bytes, 0x61));
const aes128gcm = { 'Content-Encoding': 'aes128gcm' };

/** The status an upgrade is answered with when it is refused (0 when it opens). */
function upgradeRefusal(url: string): Promise<{ status: number; retryAfter: string | undefined; socket?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, ['push-notification']);
    socket.once('open', () => resolve({ status: 0, retryAfter: undefined, socket }));
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? -1, retryAfter: response.headers['retry-after'] });
      response.resume();
    });
    socket.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

describe('caps', () => {
  describe('connections per source', () => {
    let running: Running;
    before(async () => {
      running = await startHerald({ guard: { exemptLoopback: false, maxConnectionsPerSource: 2 } });
    });
    after(() => running.stop());

    it('a source past its connection cap is answered 429 with Retry-After, and may connect again once one closes', async () => {
      const first = await RawDevice.connect(running.wsUrl);
      const second = await RawDevice.connect(running.wsUrl);
      const refused = await upgradeRefusal(running.wsUrl);
      assert.equal(refused.status, 429);
      assert.equal(refused.retryAfter, '30');
      first.close();
      await first.closed;
      // The slot is free once the server has seen the close.
      let again = await upgradeRefusal(running.wsUrl);
      await waitFor(async () => again.status === 0 || (again = await upgradeRefusal(running.wsUrl)).status === 0, 2000, 'the freed connection slot');
      assert.equal(again.status, 0);
      again.socket?.close();
      second.close();
    });
  });

  describe('registrations per device', () => {
    let running: Running;
    before(async () => {
      running = await startHerald({ guard: { maxChannelsPerDevice: 2 } });
    });
    after(() => running.stop());

    it('a register past the cap answers status 409 with a reason and keeps the socket; re-registering or freeing a slot works', async () => {
      const device = await RawDevice.connect(running.wsUrl);
      await device.hello();
      await device.register(CHANNEL_A);
      await device.register(CHANNEL_B);
      device.send({ messageType: 'register', channelID: CHANNEL_C });
      const refused = await device.next('register');
      assert.equal(refused.status, 409);
      assert.equal(refused.channelID, CHANNEL_C);
      assert.match(String(refused.error), /too many registrations/);
      assert.equal(refused.pushEndpoint, undefined);
      // Re-registering a channel it holds replaces it: not a new slot.
      await device.register(CHANNEL_B);
      device.send({ messageType: 'unregister', channelID: CHANNEL_A });
      await device.next('unregister');
      await device.register(CHANNEL_C);
      device.close();
    });
  });

  describe('stored messages per device', () => {
    let running: Running;
    before(async () => {
      running = await startHerald({ guard: { maxStoredMessagesPerDevice: 2, backlogRetryAfterSeconds: 45 } });
    });
    after(() => running.stop());

    it('a device away with a full backlog makes the sender wait (429 errno 29, Retry-After) until it drains', async () => {
      const { device, endpoint, uaid } = await subscribedDevice(running.wsUrl, CHANNEL_A);
      device.close();
      await device.closed;
      await expectStatus(await post(endpoint), 201);
      await expectStatus(await post(endpoint), 201);
      assert.equal(await expectLimited(await post(endpoint)), 45);
      // TTL=0 is never stored, so a full backlog does not refuse it.
      await expectStatus(await post(endpoint, { TTL: '0' }), 201);

      // The device comes back and acks both: there is room again.
      const back = await RawDevice.connect(running.wsUrl);
      assert.equal(await back.hello(uaid), uaid);
      for (let i = 0; i < 2; i++) back.ack(await back.next('notification'));
      // Acks carry no answer: poll the store until both are deleted.
      await waitFor(async () => (await (await running.store()).countMessages(uaid, Date.now())) === 0, 2000, 'both acked messages to leave storage');
      await expectStatus(await post(endpoint), 201);
      back.close();
    });
  });

  describe('stored payload bytes per device', () => {
    let running: Running;
    before(async () => {
      running = await startHerald({ guard: { maxStoredBytesPerDevice: 3200 } });
    });
    after(() => running.stop());

    it('payloads past the byte cap are refused with 429 errno 29 while smaller ones that fit are taken', async () => {
      const { device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_A);
      device.close();
      await device.closed;
      // Each body is 1,400 bytes of text + 103 bytes of aes128gcm framing: two fit in 3,200, three do not.
      await expectStatus(await post(endpoint, aes128gcm, encrypted(1400)), 201);
      await expectStatus(await post(endpoint, aes128gcm, encrypted(1400)), 201);
      await expectLimited(await post(endpoint, aes128gcm, encrypted(1400)));
      await expectStatus(await post(endpoint, aes128gcm, encrypted(10)), 201);
    });

    it('the forwarded headers count toward the byte cap: a small body with long aesgcm headers fills it', async () => {
      const { device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_B);
      device.close();
      await device.closed;
      // 16 bytes of body and ~1,090 of headers kept with it: two fit in 3,200 bytes, a third does not.
      const aesgcm = { 'Content-Encoding': 'aesgcm', Encryption: 'salt=AAECAwQFBgcICQoLDA0ODw', 'Crypto-Key': `dh=${'B'.repeat(1000)}` };
      for (let i = 0; i < 2; i++) await expectStatus(await post(endpoint, aesgcm, Buffer.alloc(16)), 201);
      await expectLimited(await post(endpoint, aesgcm, Buffer.alloc(16)));
    });
  });

  describe('socket frame size', () => {
    let running: Running;
    before(async () => {
      running = await startHerald({ push: { maxFrameBytes: 1024 } });
    });
    after(() => running.stop());

    it('push.maxFrameBytes is configurable: a larger frame closes the socket 1009', async () => {
      const device = await RawDevice.connect(running.wsUrl);
      device.send({ messageType: 'hello', use_webpush: true, padding: 'x'.repeat(2048) });
      assert.equal((await device.closed).code, 1009);
    });
  });
});

