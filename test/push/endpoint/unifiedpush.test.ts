/**
 * UnifiedPush (server spec SERV_1.2.0, docs/unifiedpush.md): an application server checks the
 * endpoint it was handed with a GET, then sends a VAPID-signed aes128gcm message; a device that
 * speaks the protocol as a distributor would (hello, register with the app's VAPID key, ack)
 * receives it through Herald. Around that: what the endpoint answers to the other methods and to
 * requests node's HTTP parser refuses, all in Herald's envelope.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import webpush from 'web-push';
import { decryptAes128gcm } from '../../../src/crypto/ece.js';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald, type Running } from '../../helpers/herald.js';
import { expectError, expectStatus, newSubscriber, post, sendWithWebPush } from '../../helpers/sender.js';

const app = webpush.generateVAPIDKeys();
const vapidDetails = { subject: 'mailto:app@example.com', publicKey: app.publicKey, privateKey: app.privateKey };
const { uaKeys, authSecret, keys } = newSubscriber();

/** Sends raw bytes to the endpoint's port and returns everything the server wrote before closing. */
function raw(origin: string, bytes: string): Promise<string> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(url.port), url.hostname, () => socket.write(bytes));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    setTimeout(() => reject(new Error('no answer')), 10_000).unref();
  });
}

function envelopeOf(answer: string): { code: number; errno: number; message: string } {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: number; errno: number; message: string };
}

describe('UnifiedPush', () => {
  let running: Running;
  let distributor: RawDevice;
  let endpoint: string;

  before(async () => {
    running = await startHerald();
    distributor = await RawDevice.connect(running.wsUrl);
    await distributor.hello();
    endpoint = await distributor.register(CHANNEL_A, app.publicKey);
  });
  after(async () => {
    distributor.close();
    await running.stop();
  });

  it('an application server discovers the endpoint with GET, then its VAPID-signed aes128gcm message reaches the distributor unchanged', async () => {
    assert.ok(Buffer.byteLength(endpoint) <= 1000, `the endpoint is ${Buffer.byteLength(endpoint)} bytes`);
    const discovery = await fetch(endpoint, { redirect: 'manual' });
    assert.equal(discovery.status, 200);
    assert.deepEqual(await discovery.json(), { unifiedpush: { version: 1 } });

    const sent = await sendWithWebPush({ endpoint, keys }, 'hello from the app server', { vapidDetails, TTL: 60, contentEncoding: 'aes128gcm' });
    assert.equal(sent.status, 201, await sent.text());
    const notification = await distributor.next('notification');
    const body = Buffer.from(notification.data as string, 'base64url');
    assert.equal(decryptAes128gcm({ body, uaKeys, authSecret }).toString(), 'hello from the app server');
    distributor.ack(notification);
  });

  it('discovery of an endpoint that does not open or is gone answers as a POST would (404 errno 102, 410 errno 106)', async () => {
    await expectError(await fetch(`${running.origin}/wpush/v2/not-a-token`), 404, 102);
    const gone = await distributor.register(CHANNEL_B, app.publicKey);
    distributor.send({ messageType: 'unregister', channelID: CHANNEL_B });
    await distributor.next('unregister');
    await expectError(await fetch(gone), 410, 106);
  });

  it('PUT, PATCH and DELETE on a valid endpoint answer 405 with Allow: GET, POST, and the subscription stays', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const response = await fetch(endpoint, { method });
      assert.equal(response.headers.get('allow'), 'GET, POST', method);
      await expectError(response, 405, 999);
    }
    const sent = await sendWithWebPush({ endpoint, keys }, 'still here', { vapidDetails, TTL: 60 });
    assert.equal(sent.status, 201);
    distributor.ack(await distributor.next('notification'));
  });

  it('a body past either limit answers 413 errno 104 naming the limit', async () => {
    // A v1 endpoint: on v2 the missing VAPID signature answers first (check order).
    const v1 = await distributor.register('3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a');
    for (const bytes of [5631, 200_000]) {
      const response = await post(v1, { 'Content-Encoding': 'aes128gcm' }, Buffer.alloc(bytes));
      const text = await response.text();
      assert.equal(response.status, 413, `${bytes} bytes`);
      assert.match((JSON.parse(text) as { message: string }).message, /at most 5630 bytes/);
    }
  });

  it('headers too large (431) and malformed HTTP (400) are answered in the envelope', async () => {
    const host = new URL(running.origin).host;
    const huge = await raw(running.origin, `GET /wpush/v1/x HTTP/1.1\r\nHost: ${host}\r\nX-Padding: ${'p'.repeat(20_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.deepEqual([envelopeOf(huge).code, envelopeOf(huge).errno], [431, 999]);
    const malformed = await raw(running.origin, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(malformed, /^HTTP\/1\.1 400 /);
    assert.equal(envelopeOf(malformed).code, 400);
    // The listener is fine afterwards.
    await expectStatus(await fetch(endpoint), 200);
  });
});
