/**
 * The blocklist cache in front of the store: what one node answers after a revocation made on
 * another node sharing the PostgreSQL database, and on this node. A hand-driven clock, no waiting.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SenderBlocklist } from '../../../src/push/revocation/blocklist.js';
import { openStore } from '../../../src/store/open/open-store.js';
import type { Store } from '../../../src/store/types.js';
import { ManualClock } from '../../helpers/clock.js';
import { postgresUnavailable, postgresUrl, requireServices } from '../../helpers/services.js';

const T0 = 1_700_000_000_000;
const clock = () => new ManualClock({ start: T0 });

describe('sender blocklist cache on one node (SQLite)', () => {
  it('answers from memory within the TTL, asks storage again after it, and applies a local block at once', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const time = clock();
      const blocklist = new SenderBlocklist(store, { ttlMs: 5000, maxEntries: 100, now: time.now });
      const key = randomBytes(32);
      assert.equal(await blocklist.isBlocked(key), false);
      // Another process (herald keys block) writes storage directly.
      await store.blockSenderKey({ keyHash: key, source: 'operator', reason: 'cli', blockedAt: T0 });
      assert.equal(blocklist.isBlocked(key), false, 'a fresh cached answer is used as is (synchronously)');
      time.advance(5000);
      assert.equal(await blocklist.isBlocked(key), true);

      const other = randomBytes(32);
      assert.equal(await blocklist.isBlocked(other), false);
      await blocklist.block({ keyHash: other, source: 'holder', reason: 'revoked', blockedAt: T0 });
      assert.equal(blocklist.isBlocked(other), true, 'a block through this node applies at once');
    } finally {
      await store.close();
    }
  });

  it('with a TTL of 0 every check asks storage', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const blocklist = new SenderBlocklist(store, { ttlMs: 0, maxEntries: 100, now: () => T0 });
      const key = randomBytes(32);
      assert.equal(await blocklist.isBlocked(key), false);
      await store.blockSenderKey({ keyHash: key, source: 'operator', reason: 'cli', blockedAt: T0 });
      assert.equal(await blocklist.isBlocked(key), true);
    } finally {
      await store.close();
    }
  });
});

requireServices([await postgresUnavailable()], (skip) => {
  describe('sender blocklist across two nodes sharing PostgreSQL', { skip }, () => {
    const schema = `herald_blocklist_${randomBytes(4).toString('hex')}`;
    let nodeA: Store;
    let nodeB: Store;

    before(async () => {
      const url = new URL(postgresUrl);
      url.searchParams.set('schema', schema);
      nodeA = await openStore(url.toString());
      nodeB = await openStore(url.toString());
    });
    after(async () => {
      await nodeA?.close();
      await nodeB?.close();
      const admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });

    it('a revocation on node A is refused on node B once B’s cached answer is older than the TTL', async () => {
      const time = clock();
      const a = new SenderBlocklist(nodeA, { ttlMs: 5000, maxEntries: 100, now: time.now });
      const b = new SenderBlocklist(nodeB, { ttlMs: 5000, maxEntries: 100, now: time.now });
      const key = randomBytes(32);
      assert.equal(await b.isBlocked(key), false);

      await a.block({ keyHash: key, source: 'holder', reason: 'revoked by its holder', blockedAt: T0 });
      assert.equal(await a.isBlocked(key), true);
      // The documented window: B may accept the key until its answer is ttlMs old.
      assert.equal(await b.isBlocked(key), false);
      time.advance(5000);
      assert.equal(await b.isBlocked(key), true);
    });

    it('concurrent checks of an uncached key share one storage lookup', async () => {
      let lookups = 0;
      const counting = new Proxy(nodeB, {
        get(target, name, receiver) {
          if (name === 'isSenderKeyBlocked') return (hash: Buffer) => (lookups++, target.isSenderKeyBlocked(hash));
          return Reflect.get(target, name, receiver) as unknown;
        },
      });
      const b = new SenderBlocklist(counting, { ttlMs: 5000, maxEntries: 100, now: () => T0 });
      const key = randomBytes(32);
      await nodeA.blockSenderKey({ keyHash: key, source: 'operator', reason: 'abuse', blockedAt: T0 });
      const answers = await Promise.all(Array.from({ length: 20 }, () => b.isBlocked(key)));
      assert.deepEqual(new Set(answers), new Set([true]));
      assert.equal(lookups, 1);
    });
  });
});
