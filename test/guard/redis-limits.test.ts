/**
 * Threat 3 on many nodes: with bus.url = redis://…, two Herald instances count against the same
 * windows and see the same bans (real Redis, a fresh key prefix per run). Redis keeps the time of
 * shared windows, so the tests poll until it lets the sender through (bounded) instead of sleeping.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { CHANNEL_A, CHANNEL_B, type RawDevice, startHerald, subscribedDevice, type Running } from '../helpers/herald.js';
import { expectLimited, expectStatus, post, vapidHeader } from '../helpers/sender.js';
import { deleteRedisKeys, redisUnavailable, redisUrl, requireServices, uniquePrefix } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

const keyPrefix = uniquePrefix('guard');
const sender = generateVapidKeyPair();
const forger = generateVapidKeyPair();
const vapid = (origin: string) => vapidHeader(origin, sender);

/** Resolves once a POST is answered 201 again, within the Retry-After the refusal gave (and a margin). */
async function servedAgain(url: string, origin: string, retryAfter: number, what: string): Promise<void> {
  const accepted = async () => (await post(url, { Authorization: vapid(origin) })).status === 201;
  await waitFor(accepted, retryAfter * 1000 + 2000, what, 100);
}

requireServices([await redisUnavailable()], (skip) => {
  describe('limits and bans shared through Redis by two Herald instances', { skip }, () => {
    let nodeA: Running;
    let nodeB: Running;
    const devices: RawDevice[] = [];
    before(async () => {
      const config = {
        server: { adminPort: 0 },
        bus: { url: redisUrl, keyPrefix },
        guard: {
          exemptLoopback: false,
          perSource: { points: 0, seconds: 1 },
          perSenderKey: { points: 3, seconds: 2 },
          bans: { invalidSignatures: 2, windowSeconds: 30, coolDownSeconds: 2 },
        },
      };
      nodeA = await startHerald(config);
      nodeB = await startHerald(config);
    });
    after(async () => {
      for (const device of devices) device.close();
      await nodeA?.stop();
      await nodeB?.stop();
      await deleteRedisKeys(keyPrefix);
    });

    it('a sender key limited on one node is limited on the other, and both serve it again after the window', async () => {
      const a = await subscribedDevice(nodeA.wsUrl, CHANNEL_A, sender.publicKey);
      const b = await subscribedDevice(nodeB.wsUrl, CHANNEL_B, sender.publicKey);
      devices.push(a.device, b.device);
      await expectStatus(await post(a.endpoint, { Authorization: vapid(nodeA.origin) }), 201);
      await expectStatus(await post(a.endpoint, { Authorization: vapid(nodeA.origin) }), 201);
      await expectStatus(await post(b.endpoint, { Authorization: vapid(nodeB.origin) }), 201);
      // Three messages in all: the fourth is refused wherever it goes.
      await expectLimited(await post(b.endpoint, { Authorization: vapid(nodeB.origin) }));
      const retryAfter = await expectLimited(await post(a.endpoint, { Authorization: vapid(nodeA.origin) }));
      await servedAgain(b.endpoint, nodeB.origin, retryAfter, 'the shared sender-key window to pass');
    });

    it('a source banned by one node is refused by the other and listed by both, until the cool-down ends', async () => {
      const a = await subscribedDevice(nodeA.wsUrl, CHANNEL_A, forger.publicKey);
      const b = await subscribedDevice(nodeB.wsUrl, CHANNEL_B, sender.publicKey);
      devices.push(a.device, b.device);
      // Signed by another key than the one the subscription is bound to: 401 errno 109.
      for (let i = 0; i < 2; i++) await expectStatus(await post(a.endpoint, { Authorization: vapid(nodeA.origin) }), 401);
      const retryAfter = await expectLimited(await post(b.endpoint, { Authorization: vapid(nodeB.origin) }));
      for (const node of [nodeA, nodeB]) {
        const response = await fetch(`http://127.0.0.1:${node.herald.listeners.adminPort}/admin/bans`);
        const { bans } = (await response.json()) as { bans: Array<{ source: string; reason: string }> };
        assert.deepEqual(
          bans.map((ban) => [ban.source, ban.reason]),
          [['4:127.0.0.1', 'invalid-signatures']],
        );
      }
      await servedAgain(b.endpoint, nodeB.origin, retryAfter, 'the shared ban to end');
    });

    it('a ban lifted on one node is lifted on every node at once, and its strikes start over', async () => {
      const a = await subscribedDevice(nodeA.wsUrl, CHANNEL_A, forger.publicKey);
      const b = await subscribedDevice(nodeB.wsUrl, CHANNEL_B, sender.publicKey);
      devices.push(a.device, b.device);
      const liftOn = (node: Running) => fetch(`http://127.0.0.1:${node.herald.listeners.adminPort}/admin/bans/127.0.0.1`, { method: 'DELETE' });
      // The test before left strikes in the shared window: start from none.
      await liftOn(nodeB);
      for (let i = 0; i < 2; i++) await expectStatus(await post(a.endpoint, { Authorization: vapid(nodeA.origin) }), 401);
      await expectLimited(await post(b.endpoint, { Authorization: vapid(nodeB.origin) }));
      const lift = await liftOn(nodeA);
      assert.deepEqual(await lift.json(), { source: '4:127.0.0.1', lifted: true });
      await expectStatus(await post(b.endpoint, { Authorization: vapid(nodeB.origin) }), 201);
      // One more bad signature is one strike, not a renewed ban.
      await expectStatus(await post(a.endpoint, { Authorization: vapid(nodeA.origin) }), 401);
      await expectStatus(await post(b.endpoint, { Authorization: vapid(nodeB.origin) }), 201);
      const again = await fetch(`http://127.0.0.1:${nodeB.herald.listeners.adminPort}/admin/bans/4%3A127.0.0.1`, { method: 'DELETE' });
      assert.deepEqual(await again.json(), { source: '4:127.0.0.1', lifted: false });
    });
  });
});
