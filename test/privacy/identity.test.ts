/**
 * Threat 2 of docs/security.md: someone tries to learn or claim another device's identity. A full
 * flow — register, send, deliver, ack, message status, delete, revocation, every kind of error —
 * runs against a real Herald; no HTTP answer (status line aside: body and every header) and no log
 * line at info level names a uaid or channelID, in any spelling.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { revokeSenderKey } from '../../src/client/revoke.js';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald } from '../helpers/herald.js';
import { captureLog } from '../helpers/log.js';
import { newSubscriber, vapidHeader } from '../helpers/sender.js';

/** /metrics is served on the device port only behind this bearer token (server.metricsToken). */
const METRICS_TOKEN = 'metrics-token-for-the-tests-000000000000';

/** Every spelling of a hex id someone could search for: dashed/undashed, any case, base64 of its bytes. */
function spellings(id: string): string[] {
  const hex = id.replace(/-/g, '').toLowerCase();
  const bytes = Buffer.from(hex, 'hex');
  const forms = [id, hex, bytes.toString('base64url'), bytes.toString('base64').replace(/=+$/, '')];
  if (id.includes('-')) forms.push(id.toLowerCase());
  return forms;
}

function leaks(haystack: string, id: string): string | null {
  const lower = haystack.toLowerCase();
  for (const form of spellings(id)) {
    // Hex forms in any case; base64 forms are case-sensitive.
    const found = /^[0-9a-f-]+$/i.test(form) ? lower.includes(form.toLowerCase()) : haystack.includes(form);
    if (found) return form;
  }
  return null;
}

describe('identity privacy', () => {
  it('no HTTP answer and no info-level log line of a full flow names a uaid or channelID, in any spelling', async () => {
    const log = captureLog();
    const running = await startHerald({ server: { port: 0, metricsToken: METRICS_TOKEN } }, undefined, { logger: log.logger });
    const { herald, wsUrl: connectionUrl, origin } = running;
    const answers: Array<{ what: string; text: string }> = [];
    async function call(what: string, url: string, init: RequestInit = {}): Promise<Response> {
      const response = await fetch(url, init);
      const body = await response.clone().text();
      const headers = [...response.headers.entries()].map(([name, value]) => `${name}: ${value}`).join('\n');
      answers.push({ what, text: `${headers}\n\n${body}` });
      return response;
    }
    const sender = generateVapidKeyPair();
    const vapid = (keys = sender) => vapidHeader(origin, keys, 600);
    const subscriber = newSubscriber();
    const ids: string[] = [CHANNEL_A, CHANNEL_B];

    try {
      const device = await RawDevice.connect(connectionUrl);
      const uaid = await device.hello();
      ids.push(uaid);
      const v1 = await device.register(CHANNEL_A);
      const v2 = await device.register(CHANNEL_B, sender.publicKey);
      device.send({ messageType: 'register' });
      const generated = await device.next('register');
      ids.push(generated.channelID as string);

      // Send, deliver, ack (v1 and v2), with status and delete of a pending message.
      const body = subscriber.encrypt('you have news');
      const sent = await call('send v1', v1, { method: 'POST', headers: { TTL: '60', 'Content-Encoding': 'aes128gcm' }, body });
      assert.equal(sent.status, 201);
      device.ack(await device.next('notification'));
      assert.equal((await call('send v2', v2, { method: 'POST', headers: { TTL: '60', Authorization: vapid() } })).status, 201);
      device.ack(await device.next('notification'));
      const location = sent.headers.get('location') as string;
      await call('status of a delivered message', location);

      device.close();
      await device.closed;
      const pending = await call('send to an away device', v1, { method: 'POST', headers: { TTL: '600', Topic: 'news' } });
      const pendingLocation = pending.headers.get('location') as string;
      assert.equal((await (await call('status of a pending message', pendingLocation)).json() as { status: string }).status, 'pending');
      assert.equal((await call('delete a pending message', pendingLocation, { method: 'DELETE' })).status, 204);

      // Errors: 404, 401, 400s, 413, 410 (subscription and device gone), revoked key 403/410.
      await call('bad token', `${origin}/wpush/v1/${'A'.repeat(80)}`, { method: 'POST', headers: { TTL: '60' } });
      await call('v1 token on v2', v1.replace('/v1/', '/v2/'), { method: 'POST', headers: { TTL: '60', Authorization: vapid() } });
      await call('bad message id', `${origin}/m/${'B'.repeat(60)}`);
      await call('v2 without VAPID', v2, { method: 'POST', headers: { TTL: '60' } });
      await call('v2 with another key', v2, { method: 'POST', headers: { TTL: '60', Authorization: vapid(generateVapidKeyPair()) } });
      await call('missing TTL', v1, { method: 'POST' });
      await call('bad topic', v1, { method: 'POST', headers: { TTL: '60', Topic: 'no spaces allowed' } });
      await call('plaintext body', v1, { method: 'POST', headers: { TTL: '60' }, body: 'hello' });
      await call('too large', v1, { method: 'POST', headers: { TTL: '60', 'Content-Encoding': 'aes128gcm' }, body: Buffer.alloc(6000) });
      await call('unknown route', `${origin}/wpush/v9/x`, { method: 'POST' });

      const back = await RawDevice.connect(connectionUrl);
      await back.hello(uaid);
      back.send({ messageType: 'unregister', channelID: generated.channelID });
      await back.next('unregister');
      const generatedEndpoint = (generated.pushEndpoint as string) ?? '';
      const gone = await call('unregistered channel', generatedEndpoint, { method: 'POST', headers: { TTL: '60' } });
      assert.equal(gone.status, 410);
      assert.equal((await revokeSenderKey(origin, sender)).status, 200);
      assert.equal((await call('revoked key on v2', v2, { method: 'POST', headers: { TTL: '60', Authorization: vapid() } })).status, 410);
      assert.equal((await call('revoked key on v1', v1, { method: 'POST', headers: { TTL: '60', Authorization: vapid() } })).status, 403);
      back.send('{"messageType":"bogus"}');
      await back.closed;
      await herald.storage.dropDevice(uaid);
      assert.equal((await call('device gone', v1, { method: 'POST', headers: { TTL: '60' } })).status, 410);
      await herald.sweep();

      await call('heartbeat', `${origin}/__heartbeat__`);
      await call('version', `${origin}/__version__`);
      assert.equal((await call('metrics', `${origin}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200);

      assert.ok(answers.length >= 23, 'the flow produced the answers it is meant to check');
      // The search itself finds every spelling it claims to.
      const probes: Array<[string, string]> = [
        [uaid.toUpperCase(), uaid],
        [Buffer.from(uaid, 'hex').toString('base64url'), uaid],
        [CHANNEL_A.replace(/-/g, ''), CHANNEL_A],
        [CHANNEL_A.toUpperCase(), CHANNEL_A],
      ];
      for (const [form, id] of probes) assert.notEqual(leaks(`x ${form} y`, id), null, form);
      assert.match(log.text(), /Herald listening/);
      for (const id of ids) {
        for (const { what, text } of answers) assert.equal(leaks(text, id), null, `the answer to "${what}" names ${id}`);
        assert.equal(leaks(log.text(), id), null, `the info log names ${id}`);
      }
    } finally {
      await running.stop();
    }
  });
});
