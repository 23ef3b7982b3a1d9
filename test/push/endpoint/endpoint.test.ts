/**
 * The sender endpoint over real HTTP (protocol.md §2): every rule and errno, in check order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateVapidKeyPair, signVapidJwt } from '../../../src/crypto/vapid.js';
import { ManualClock } from '../../helpers/clock.js';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald, type Running } from '../../helpers/herald.js';
import { expectError, expectStatus, newSubscriber, post, vapidHeader } from '../../helpers/sender.js';

/** /metrics is served on the device port only behind this bearer token (server.metricsToken). */
const METRICS_TOKEN = 'metrics-token-for-the-tests-000000000000';

const sender = generateVapidKeyPair();
const otherSender = generateVapidKeyPair();
const subscriber = newSubscriber();
const vapid = (origin: string, keys = sender, expiresIn = 3600) => vapidHeader(origin, keys, expiresIn);
const encrypted = (text = 'hello') => subscriber.encrypt(text);

describe('sender endpoint', () => {
  let running: Running;
  let device: RawDevice;
  let uaid: string;
  let v1: string;
  let v2: string;

  // Real time, except that the TTL test jumps it.
  const clock = new ManualClock({ ticking: true });

  before(async () => {
    running = await startHerald({ server: { port: 0, metricsToken: METRICS_TOKEN } }, undefined, { now: clock.now });
    device = await RawDevice.connect(running.wsUrl);
    uaid = await device.hello();
    v1 = await device.register(CHANNEL_A);
    v2 = await device.register(CHANNEL_B, sender.publicKey);
  });
  after(async () => {
    device.close();
    await running.stop();
  });

  it('endpoints carry the configured origin and the version in their path', () => {
    assert.ok(v1.startsWith(`${running.origin}/wpush/v1/`));
    assert.ok(v2.startsWith(`${running.origin}/wpush/v2/`));
  });

  it('an encrypted message answers 201 with Location and TTL, and reaches the device', async () => {
    const response = await post(v1, { TTL: '60', 'Content-Encoding': 'aes128gcm' }, encrypted());
    assert.equal(response.status, 201);
    assert.equal(await response.text(), '');
    assert.match(response.headers.get('location') ?? '', new RegExp(`^${running.origin}/m/[A-Za-z0-9_-]+$`));
    assert.equal(response.headers.get('ttl'), '60');
    const notification = await device.next('notification');
    assert.equal(notification.channelID, CHANNEL_A);
    assert.deepEqual(notification.headers, { encoding: 'aes128gcm' });
    device.ack(notification);
  });

  it('the legacy /wpush/:token route is v1', async () => {
    const legacy = v1.replace('/wpush/v1/', '/wpush/');
    const response = await post(legacy, { TTL: '0' });
    assert.equal(response.status, 201);
    device.ack(await device.next('notification'));
  });

  it('a TTL above 30 days is capped', async () => {
    const response = await post(v1, { TTL: String(90 * 86400) });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('ttl'), String(30 * 86400));
    device.ack(await device.next('notification'));
  });

  it('an empty body is accepted with or without crypto headers; the device gets no data or headers', async () => {
    for (const headers of [{ TTL: '60' }, { TTL: '60', 'Content-Encoding': 'aes128gcm' }] as Array<Record<string, string>>) {
      const response = await post(v1, headers);
      assert.equal(response.status, 201);
      const notification = await device.next('notification');
      assert.equal('data' in notification, false);
      assert.equal('headers' in notification, false);
      device.ack(notification);
    }
  });

  it('aesgcm forwards Encryption and Crypto-Key without quotes and padding', async () => {
    const response = await post(
      v1,
      { TTL: '60', 'Content-Encoding': 'aesgcm', Encryption: 'salt="AAECAwQFBgcICQoLDA0ODw=="', 'Crypto-Key': 'dh="BAEC="' },
      Buffer.from('legacy ciphertext'),
    );
    assert.equal(response.status, 201);
    const notification = await device.next('notification');
    assert.deepEqual(notification.headers, { encoding: 'aesgcm', encryption: 'salt=AAECAwQFBgcICQoLDA0ODw', crypto_key: 'dh=BAEC' });
    device.ack(notification);
  });

  it('v2 accepts the bound key in both VAPID schemes', async () => {
    const jwt = signVapidJwt({
      audience: running.origin,
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
      publicKey: sender.publicKey,
      privateKey: sender.privateKey,
    });
    const schemes: Array<Record<string, string>> = [
      { Authorization: vapid(running.origin) },
      { Authorization: `WebPush ${jwt}`, 'Crypto-Key': `dh=BAEC;p256ecdsa=${sender.publicKey}` },
      { Authorization: `Bearer ${jwt}`, 'Crypto-Key': `p256ecdsa=${Buffer.from(sender.publicKey, 'base64url').toString('base64')}` },
    ];
    for (const headers of schemes) {
      const response = await post(v2, { TTL: '60', ...headers });
      assert.equal(response.status, 201, await response.text());
      device.ack(await device.next('notification'));
    }
  });

  describe('errors', () => {
    it('a token that does not open: 404 errno 102', async () => {
      await expectError(await post(`${running.origin}/wpush/v1/not-a-token`, { TTL: '60' }), 404, 102);
      const altered = v1.slice(0, -2) + (v1.endsWith('A') ? 'BB' : 'AA');
      await expectError(await post(altered, { TTL: '60' }), 404, 102);
    });

    it('a v1 token on the v2 route (wrong length for its version): 404 errno 102', async () => {
      await expectError(await post(v1.replace('/wpush/v1/', '/wpush/v2/'), { TTL: '60', Authorization: vapid(running.origin) }), 404, 102);
    });

    it('v2 without VAPID: 401 errno 109', async () => {
      await expectError(await post(v2, { TTL: '60' }), 401, 109);
    });

    it('VAPID for another origin, expired, 25 h ahead, a bad signature, a key mismatch: 401 errno 109', async () => {
      const cases: Array<[string, Record<string, string>]> = [
        ['other origin', { Authorization: vapid('https://push.example.net') }],
        ['expired', { Authorization: vapid(running.origin, sender, -60 * 5) }],
        ['25 h ahead', { Authorization: vapid(running.origin, sender, 25 * 3600) }],
        ['key mismatch', { Authorization: vapid(running.origin, otherSender) }],
        ['bad scheme', { Authorization: 'Basic dXNlcjpwYXNz' }],
      ];
      const good = vapid(running.origin);
      const tampered = good.replace(/t=([^.]+)\.([^.]+)\.([A-Za-z0-9_-]+)/, (_m, h: string, p: string, s: string) => `t=${h}.${p}.${s.slice(0, -4)}AAAA`);
      cases.push(['bad signature', { Authorization: tampered }]);
      for (const [label, headers] of cases) {
        const response = await post(v2, { TTL: '60', ...headers });
        assert.equal(response.status, 401, label);
        await expectError(response, 401, 109);
      }
    });

    it('VAPID on v1 is optional but checked when present', async () => {
      await expectError(await post(v1, { TTL: '60', Authorization: vapid('https://elsewhere.example') }), 401, 109);
      const ok = await post(v1, { TTL: '60', Authorization: vapid(running.origin, otherSender) });
      assert.equal(ok.status, 201);
      device.ack(await device.next('notification'));
    });

    it('missing TTL: 400 errno 111; negative or non-numeric TTL: 400 errno 114', async () => {
      await expectError(await post(v1, { TTL: undefined }), 400, 111);
      await expectError(await post(v1, { TTL: '-1' }), 400, 114);
      await expectError(await post(v1, { TTL: 'soon' }), 400, 114);
    });

    it('an invalid Topic: 400 errno 113', async () => {
      await expectError(await post(v1, { TTL: '60', Topic: 'x'.repeat(33) }), 400, 113);
      await expectError(await post(v1, { TTL: '60', Topic: 'has space' }), 400, 113);
    });

    it('a body without encryption headers, or with an unknown encoding: 400 errno 110', async () => {
      await expectError(await post(v1, { TTL: '60' }, Buffer.from('plain text')), 400, 110);
      await expectError(await post(v1, { TTL: '60', 'Content-Encoding': 'gzip' }, Buffer.from('x')), 400, 110);
      await expectError(await post(v1, { TTL: '60', 'Content-Encoding': 'aesgcm' }, Buffer.from('x')), 400, 110);
      await expectError(await post(v1, { TTL: '60', 'Content-Encoding': 'aes128gcm' }, Buffer.from('truncated')), 400, 110);
    });

    it('an Encryption or Crypto-Key header longer than 1,024 characters: 400 errno 110, nothing stored', async () => {
      const aesgcm = { TTL: '60', 'Content-Encoding': 'aesgcm', Encryption: 'salt=AAECAwQFBgcICQoLDA0ODw' };
      await expectError(await post(v1, { ...aesgcm, 'Crypto-Key': `dh=${'B'.repeat(14_000)}` }, Buffer.alloc(16)), 400, 110);
      await expectError(await post(v1, { ...aesgcm, Encryption: `salt=${'A'.repeat(2000)}` }, Buffer.alloc(16)), 400, 110);
      // Real ones (~40 and ~200 characters) pass.
      await expectStatus(await post(v1, { ...aesgcm, 'Crypto-Key': `dh=${'B'.repeat(87)};p256ecdsa=${'C'.repeat(87)}` }, Buffer.alloc(16)), 201);
    });

    it('a body above the limit: 413 errno 104', async () => {
      await expectError(await post(v1, { TTL: '60', 'Content-Encoding': 'aes128gcm' }, Buffer.alloc(5631)), 413, 104);
      await expectError(await post(v1, { TTL: '60', 'Content-Encoding': 'aes128gcm' }, Buffer.alloc(200_000)), 413, 104);
    });

    it('checks run in order: a bad token wins over a bad TTL, VAPID over a missing subscription', async () => {
      await expectError(await post(`${running.origin}/wpush/v1/garbage`, { TTL: '-5' }, Buffer.from('x')), 404, 102);
      await expectError(await post(v2, { TTL: '-5' }), 401, 109);
    });

    it('a message to an unregistered channel: 410 errno 106 with Cache-Control', async () => {
      const other = await RawDevice.connect(running.wsUrl);
      await other.hello();
      const endpoint = await other.register(CHANNEL_A);
      other.send({ messageType: 'unregister', channelID: CHANNEL_A });
      await other.next('unregister');
      const response = await post(endpoint, { TTL: '60' }, Buffer.from('x'));
      assert.equal(response.headers.get('cache-control'), 'max-age=86400');
      await expectError(response, 410, 106);
      other.close();
    });

    it('a message to a device that is gone: 410 errno 103', async () => {
      const other = await RawDevice.connect(running.wsUrl);
      const otherUaid = await other.hello();
      const endpoint = await other.register(CHANNEL_A);
      other.close();
      await running.herald.storage.dropDevice(otherUaid);
      await expectError(await post(endpoint, { TTL: '60' }), 410, 103);
    });

    it('an unknown route answers the error envelope', async () => {
      await expectError(await post(`${running.origin}/wpush/v3/abc`, { TTL: '60' }), 404, 102);
    });
  });

  describe('stored messages', () => {
    it('Topic: a newer message replaces the pending one of the same topic', async () => {
      const away = await RawDevice.connect(running.wsUrl);
      const awayUaid = await away.hello();
      const endpoint = await away.register(CHANNEL_A);
      away.close();
      await away.closed;
      const bodies = [encrypted('first'), encrypted('second')];
      for (const body of bodies) {
        const response = await post(endpoint, { TTL: '600', Topic: 'score', 'Content-Encoding': 'aes128gcm' }, body);
        assert.equal(response.status, 201);
      }
      assert.equal(await (await running.store()).countMessages(awayUaid, Date.now()), 1);
      const back = await RawDevice.connect(running.wsUrl);
      await back.hello(awayUaid);
      const notification = await back.next('notification');
      assert.equal(notification.data, bodies[1]?.toString('base64url'));
      await assert.rejects(back.next('notification', 300));
      back.close();
    });

    it('TTL=0 to a device that is away answers 201 and stores nothing', async () => {
      const away = await RawDevice.connect(running.wsUrl);
      const awayUaid = await away.hello();
      const endpoint = await away.register(CHANNEL_A);
      away.close();
      await away.closed;
      const response = await post(endpoint, { TTL: '0' });
      assert.equal(response.status, 201);
      // Counted whatever their expiry (now = 0): a stored TTL=0 row would already be expired.
      assert.equal(await (await running.store()).countMessages(awayUaid, 0), 0);
    });

    it('DELETE of a stored message answers 204 and the device never gets it; GET tells pending or gone', async () => {
      const away = await RawDevice.connect(running.wsUrl);
      const awayUaid = await away.hello();
      const endpoint = await away.register(CHANNEL_A);
      away.close();
      await away.closed;
      const response = await post(endpoint, { TTL: '600' });
      const location = response.headers.get('location') as string;
      assert.equal(((await (await fetch(location)).json()) as { status: string }).status, 'pending');
      assert.equal((await fetch(location, { method: 'DELETE' })).status, 204);
      assert.deepEqual(await (await fetch(location)).json(), { status: 'gone' });
      // Counted whatever their expiry (now = 0): a stored TTL=0 row would already be expired.
      assert.equal(await (await running.store()).countMessages(awayUaid, 0), 0);
      await expectError(await fetch(`${running.origin}/m/forged`, { method: 'DELETE' }), 404, 102);
    });

    it('a forged or altered message id answers 404 errno 102 to GET and DELETE, and the message stays pending', async () => {
      const away = await RawDevice.connect(running.wsUrl);
      await away.hello();
      const endpoint = await away.register(CHANNEL_A);
      away.close();
      await away.closed;
      const location = (await post(endpoint, { TTL: '600' })).headers.get('location') as string;
      const id = location.split('/').pop() as string;
      const flipped = id.slice(0, 10) + (id[10] === 'A' ? 'B' : 'A') + id.slice(11);
      for (const forged of [flipped, id.slice(0, -1), 'A'.repeat(id.length), `${id}A`]) {
        await expectError(await fetch(`${running.origin}/m/${forged}`), 404, 102);
        await expectError(await fetch(`${running.origin}/m/${forged}`, { method: 'DELETE' }), 404, 102);
      }
      assert.deepEqual(await (await fetch(location)).json(), { status: 'pending', ttl: 600 });
    });

    it('TTL expiry: an expired message is never delivered and the sweep removes it', async () => {
      const away = await RawDevice.connect(running.wsUrl);
      const awayUaid = await away.hello();
      const endpoint = await away.register(CHANNEL_A);
      away.close();
      await away.closed;
      assert.equal((await post(endpoint, { TTL: '1' })).status, 201);
      clock.advance(1000);
      const back = await RawDevice.connect(running.wsUrl);
      await back.hello(awayUaid);
      await assert.rejects(back.next('notification', 300));
      back.close();
      const swept = await running.herald.sweep();
      assert.ok(swept.expiredMessages >= 1);
    });
  });

  it('operations routes answer', async () => {
    assert.equal((await fetch(`${running.origin}/__lbheartbeat__`)).status, 200);
    assert.deepEqual(await (await fetch(`${running.origin}/__heartbeat__`)).json(), { status: 'OK', storage: 'OK', bus: 'LOCAL', limits: 'LOCAL' });
    const version = (await (await fetch(`${running.origin}/__version__`)).json()) as Record<string, string>;
    assert.equal(version.name, 'herald');
    const metrics = await (await fetch(`${running.origin}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    assert.match(metrics, /herald_messages_accepted_total\{outcome="delivered"\} \d+/);
    assert.match(metrics, /herald_endpoint_errors_total\{errno="109"\} \d+/);
    assert.match(metrics, /herald_connections \d+/);
    void uaid;
  });
});
