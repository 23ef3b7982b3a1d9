/**
 * Threat 3 on many nodes: with bus.url = redis://…, two Herald instances count against the same
 * windows and see the same bans (real Redis, a fresh key prefix per run).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { CHANNEL_A, CHANNEL_B, type RawDevice, startHerald, type Running } from '../helpers/herald.js';
import { deleteRedisKeys, redisUnavailable, redisUrl, requireServices, uniquePrefix } from '../helpers/services.js';
import { expectLimited, expectStatus, post, sender, sleep, subscribedDevice, vapid } from './attack.js';

const keyPrefix = uniquePrefix('guard');
const forger = generateVapidKeyPair();

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
      await sleep(retryAfter * 1000 + 100);
      await expectStatus(await post(b.endpoint, { Authorization: vapid(nodeB.origin) }), 201);
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
      await sleep(retryAfter * 1000 + 200);
      await expectStatus(await post(b.endpoint, { Authorization: vapid(nodeB.origin) }), 201);
    });
  });
});
