/**
 * Threat 3, flooding: every rate limit answers 429 errno 29 with Retry-After and lets the sender
 * through again once the window has passed. Windows are 1 s on a clock the test moves: nothing
 * waits, and nothing depends on how fast the machine is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { revokeSenderKey } from '../../src/client/revoke.js';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { SourceResolver } from '../../src/guard/source.js';
import { ManualClock } from '../helpers/clock.js';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald, subscribedDevice, type Running } from '../helpers/herald.js';
import { expectLimited, expectStatus, post, vapidHeader } from '../helpers/sender.js';

const sender = generateVapidKeyPair();
const vapid = (origin: string) => vapidHeader(origin, sender);

/** /metrics is served on the device port only behind this bearer token (server.metricsToken). */
const METRICS_TOKEN = 'metrics-token-for-the-tests-000000000000';

describe('rate limits on the sender endpoint', () => {
  describe('per sender key', () => {
    let running: Running;
    let devices: RawDevice[] = [];
    const clock = new ManualClock();
    before(async () => {
      running = await startHerald({ server: { port: 0, metricsToken: METRICS_TOKEN }, guard: { perSenderKey: { points: 3, seconds: 1 } } }, undefined, { now: clock.now });
    });
    after(async () => {
      for (const device of devices) device.close();
      await running.stop();
    });

    it('a key over its limit gets 429 errno 29 with Retry-After on every subscription, and is served again after the window', async () => {
      const a = await subscribedDevice(running.wsUrl, CHANNEL_A, sender.publicKey);
      const b = await subscribedDevice(running.wsUrl, CHANNEL_B, sender.publicKey);
      devices = [a.device, b.device];
      const auth = { Authorization: vapid(running.origin) };
      await expectStatus(await post(a.endpoint, auth), 201);
      await expectStatus(await post(b.endpoint, auth), 201);
      await expectStatus(await post(a.endpoint, auth), 201);
      // The fourth message of this key, whatever the subscription, is refused.
      const retryAfter = await expectLimited(await post(b.endpoint, auth));
      assert.ok(retryAfter <= 1, `the window is 1 s, Retry-After said ${retryAfter}`);
      // Operators see it too.
      const metrics = await (await fetch(`${running.origin}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      assert.match(metrics, /herald_guard_limited_total\{limit="sender key"\} 1\b/);
      clock.advance(retryAfter * 1000);
      await expectStatus(await post(b.endpoint, auth), 201);
    });
  });

  describe('per subscription and per device', () => {
    let running: Running;
    const devices: RawDevice[] = [];
    const clock = new ManualClock();
    before(async () => {
      running = await startHerald({ guard: { perSubscription: { points: 2, seconds: 1 }, perDevice: { points: 3, seconds: 1 } } }, undefined, { now: clock.now });
    });
    after(async () => {
      for (const device of devices) device.close();
      await running.stop();
    });

    it('a flooded subscription is limited while the device\'s other subscription still gets messages, up to the device limit', async () => {
      const { device, endpoint: first } = await subscribedDevice(running.wsUrl, CHANNEL_A);
      devices.push(device);
      const second = await device.register(CHANNEL_B);
      await expectStatus(await post(first), 201);
      await expectStatus(await post(first), 201);
      await expectLimited(await post(first));
      // The other channel has its own subscription window, but shares the device's (3).
      await expectStatus(await post(second), 201);
      await expectLimited(await post(second));
      clock.advance(1000);
      await expectStatus(await post(first), 201);
    });
  });

  describe('per source address', () => {
    let running: Running;
    let exempt: Running;
    const devices: RawDevice[] = [];
    const clock = new ManualClock();
    before(async () => {
      running = await startHerald({ guard: { exemptLoopback: false, perSource: { points: 2, seconds: 1 } } }, undefined, { now: clock.now });
      exempt = await startHerald({ guard: { perSource: { points: 2, seconds: 1 } } }, undefined, { now: clock.now });
    });
    after(async () => {
      for (const device of devices) device.close();
      await running.stop();
      await exempt.stop();
    });

    it('a source over its limit is refused on every endpoint until the window passes', async () => {
      const a = await subscribedDevice(running.wsUrl, CHANNEL_A);
      const b = await subscribedDevice(running.wsUrl, CHANNEL_B);
      devices.push(a.device, b.device);
      await expectStatus(await post(a.endpoint), 201);
      await expectStatus(await post(b.endpoint), 201);
      const retryAfter = await expectLimited(await post(a.endpoint));
      clock.advance(retryAfter * 1000);
      await expectStatus(await post(b.endpoint), 201);
    });

    it('by default loopback is exempt from the source limit (a local benchmark is not throttled)', async () => {
      const { device, endpoint } = await subscribedDevice(exempt.wsUrl, CHANNEL_A);
      devices.push(device);
      for (let i = 0; i < 6; i++) await expectStatus(await post(endpoint), 201);
    });

    it('key revocations have their own, lower limit (guard.revocationsPerSource), not the per-source one', async () => {
      clock.advance(1000); // a fresh window for this source
      const revoke = async () => {
        const { status } = await revokeSenderKey(running.origin, { subject: 'mailto:a@example.com', ...generateVapidKeyPair() });
        return status;
      };
      // Three revocations pass a per-source limit of 2: they are counted apart (10 per hour by
      // default; test/guard/request-limits.test.ts attacks that limit).
      for (let i = 0; i < 3; i++) assert.equal(await revoke(), 200);
      const a = await subscribedDevice(running.wsUrl, CHANNEL_A);
      devices.push(a.device);
      await expectStatus(await post(a.endpoint), 201);
    });
  });

  describe('X-Forwarded-For from a trusted proxy', () => {
    let trusting: Running;
    let ignoring: Running;
    const devices: RawDevice[] = [];
    before(async () => {
      const guard = { perSource: { points: 2, seconds: 60 } };
      trusting = await startHerald({ guard: { ...guard, trustedProxies: ['127.0.0.1'] } });
      ignoring = await startHerald({ guard: { ...guard, exemptLoopback: false } });
    });
    after(async () => {
      for (const device of devices) device.close();
      await trusting.stop();
      await ignoring.stop();
    });

    it('behind a trusted proxy each client is limited under its own address, IPv6 clients under their /64', async () => {
      const { device, endpoint } = await subscribedDevice(trusting.wsUrl, CHANNEL_A);
      devices.push(device);
      const from = (client: string) => post(endpoint, { 'X-Forwarded-For': client });
      await expectStatus(await from('203.0.113.5'), 201);
      await expectStatus(await from('203.0.113.5'), 201);
      await expectLimited(await from('203.0.113.5'));
      // Another client behind the same proxy is not affected.
      await expectStatus(await from('198.51.100.7'), 201);
      // Two addresses of one /64 share a window; a client cannot escape by rotating within it.
      await expectStatus(await from('2001:db8:1:2::1'), 201);
      await expectStatus(await from('2001:db8:1:2:abcd::99'), 201);
      await expectLimited(await from('2001:db8:1:2:ffff:ffff:ffff:ffff'));
      await expectStatus(await from('2001:db8:1:3::1'), 201);
    });

    it('without a trusted proxy, a forged X-Forwarded-For does not move the sender to a fresh window', async () => {
      const { device, endpoint } = await subscribedDevice(ignoring.wsUrl, CHANNEL_A);
      devices.push(device);
      await expectStatus(await post(endpoint, { 'X-Forwarded-For': '192.0.2.1' }), 201);
      await expectStatus(await post(endpoint, { 'X-Forwarded-For': '192.0.2.2' }), 201);
      await expectLimited(await post(endpoint, { 'X-Forwarded-For': '192.0.2.3' }));
    });
  });
});

describe('source keys', () => {
  const resolver = new SourceResolver({ exemptLoopback: true, trustedProxies: ['10.0.0.0/8'], ipv6PrefixLength: 64 });

  it('groups IPv6 by /64, reads IPv4-mapped addresses as IPv4 and marks loopback exempt', () => {
    assert.equal(resolver.resolve('2001:db8:1:2::1').key, resolver.resolve('2001:db8:1:2:ffff::9').key);
    assert.notEqual(resolver.resolve('2001:db8:1:2::1').key, resolver.resolve('2001:db8:1:3::1').key);
    assert.equal(resolver.resolve('::ffff:203.0.113.9').key, '4:203.0.113.9');
    assert.equal(resolver.resolve('127.0.0.1').exempt, true);
    assert.equal(resolver.resolve('::1').exempt, true);
    assert.equal(resolver.resolve('203.0.113.9').exempt, false);
  });

  it('takes the rightmost address a trusted proxy did not add, and ignores garbage in the header', () => {
    assert.equal(resolver.resolve('10.1.1.1', '198.51.100.1, 203.0.113.2, 10.2.2.2').key, '4:203.0.113.2');
    assert.equal(resolver.resolve('203.0.113.50', '198.51.100.1').key, '4:203.0.113.50');
    assert.equal(resolver.resolve('10.1.1.1', 'not-an-address').key, '4:10.1.1.1');
    // A loopback client address forwarded by a proxy is exempt only if it really is loopback.
    assert.equal(resolver.resolve('10.1.1.1', '127.0.0.1').exempt, true);
  });
});
