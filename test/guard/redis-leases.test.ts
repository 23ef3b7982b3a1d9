/**
 * The shared limits' leases (src/guard/redis-leases.ts) against a real Redis, attacked the way a
 * sender spreading a burst over the nodes would: several nodes (each its own Redis client) taking
 * points of one window at once must never admit more than the window's points, and a node must
 * decide most hits in memory (the point of leases) and refuse a full window without asking Redis.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ExactCounter, LeasedCounter, withGrantScript } from '../../src/guard/redis-leases.js';
import { deleteRedisKeys, redisUnavailable, redisUrl, requireServices, uniquePrefix } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

const prefix = uniquePrefix('leases');
const clients: Redis[] = [];

/** A node's Redis client with the grant script, and a count of the grants it asked for. */
function node(): { client: ReturnType<typeof withGrantScript>; grants: () => number } {
  const client = withGrantScript(new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 }));
  clients.push(client);
  let grants = 0;
  const grant = client.heraldGuardGrant.bind(client);
  client.heraldGuardGrant = (...args) => {
    grants++;
    return grant(...args);
  };
  return { client, grants: () => grants };
}

/** Every hit at once, as a burst would arrive; how many were admitted. */
async function burst(counters: LeasedCounter[], key: string, hits: number): Promise<number> {
  const decisions = Array.from({ length: hits }, (_, i) => (counters[i % counters.length] as LeasedCounter).hit(key));
  return (await Promise.all(decisions)).filter((wait) => wait === null).length;
}

requireServices([await redisUnavailable()], (skip) => {
  describe('guard leases of shared windows', { skip }, () => {
    after(async () => {
      await deleteRedisKeys(prefix);
      for (const client of clients) client.disconnect();
    });

    it('three nodes hit by one burst of 5× the limit admit exactly the limit between them', async () => {
      for (const points of [1, 7, 500, 3000]) {
        const counters = [node(), node(), node()].map(({ client }) => new LeasedCounter(client, `${prefix}:burst${points}`, points, 60_000));
        assert.equal(await burst(counters, 'sender', points * 5), points, `points ${points}`);
        // And the window stays full for every node, new hits included.
        assert.equal(await burst(counters, 'sender', 30), 0);
      }
    });

    it('most hits are decided in memory: one grant per lease, not one per hit', async () => {
      const { client, grants } = node();
      const counter = new LeasedCounter(client, `${prefix}:memory`, 64_000, 60_000);
      let waited = 0;
      for (let i = 0; i < 2000; i++) {
        const decided = counter.hit('key');
        if (decided instanceof Promise) {
          waited++;
          assert.equal(await decided, null);
        } else assert.equal(decided, null);
        // Requests arrive over time, not in one synchronous loop: a renewal has turns to come back in.
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Leases of 256 points, renewed ahead: 2000 hits ask about 8 times. A hit waits only when its
      // node's lease ran out before the renewal came back (the first always does): at most once a grant.
      assert.ok(grants() <= 10, `${grants()} grants for 2000 hits`);
      assert.ok(waited >= 1 && waited <= grants(), `${waited} of 2000 hits waited, ${grants()} grants`);
    });

    it('a full window is refused in memory, with the wait until it ends, and opens again after it', async () => {
      const { client, grants } = node();
      const counter = new LeasedCounter(client, `${prefix}:full`, 3, 400);
      assert.equal(await burst([counter], 'key', 3), 3);
      const asked = grants();
      const refused = await counter.hit('key');
      assert.ok(typeof refused === 'number' && refused > 0 && refused <= 400, `wait ${String(refused)}`);
      const again = counter.hit('key');
      assert.equal(typeof again, 'number', 'a full window is answered at once');
      assert.equal(grants(), asked + 1, 'only the first refusal asked Redis');
      await waitFor(async () => (await counter.hit('key')) === null, 3000, 'the next window to admit the key', 50);
    });

    it('a node that saw a key before another node filled its window learns it at its next lease', async () => {
      const [a, b] = [node(), node()].map(({ client }) => new LeasedCounter(client, `${prefix}:late`, 10, 60_000)) as [LeasedCounter, LeasedCounter];
      assert.equal(await a.hit('key'), null);
      assert.equal(await burst([b], 'key', 20), 9);
      assert.notEqual(await a.hit('key'), null);
    });

    it('exact counters ask Redis every time, so a reset on one node is a reset on all', async () => {
      const [a, b] = [node(), node()].map(({ client }) => new ExactCounter(client, `${prefix}:exact`, 2, 60_000)) as [ExactCounter, ExactCounter];
      assert.equal(await a.hit('source'), null);
      assert.equal(await b.hit('source'), null);
      assert.notEqual(await a.hit('source'), null);
      assert.notEqual(await b.hit('source'), null);
      await b.forget('source');
      assert.equal(await a.hit('source'), null);
    });
  });
});
