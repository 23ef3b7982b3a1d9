/**
 * Group commit on the real PostgreSQL server (src/store/postgres/message-batches.ts): the saves
 * and acks of concurrent requests share statements, yet each is committed before its promise
 * resolves; one bad row fails alone; a channel's messages keep their order; and a channel changed
 * through another node is refused even while this node's cache holds the old binding.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SubscriptionMissingError } from '../../src/store/types.js';
import { postgresUnavailable, postgresUrl } from '../helpers/services.js';
import { message, registerDevice } from './conformance.js';

const T0 = 1_700_000_000_000;
const unreachable = await postgresUnavailable();

if (unreachable !== null && process.env.CI) {
  test('PostgreSQL is reachable for the group commit tests', () => assert.fail(unreachable));
} else if (unreachable !== null) {
  test('postgres group commit', { skip: unreachable }, () => {});
} else {
  describe('postgres group commit', () => {
    let admin: pg.Pool;
    const schemas: string[] = [];
    before(() => {
      admin = new pg.Pool({ connectionString: postgresUrl, max: 2 });
      admin.on('error', () => {});
    });
    after(async () => {
      for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });

    async function openOn(schema: string): Promise<PostgresStore> {
      const store = new PostgresStore({ connectionString: postgresUrl, schema, poolSize: 4 });
      await store.migrate();
      return store;
    }

    async function freshStore(): Promise<{ store: PostgresStore; schema: string }> {
      const schema = `herald_test_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return { store: await openOn(schema), schema };
    }

    test('many parallel saves share few statements, and each row is committed when its save resolves', async () => {
      const { store, schema } = await freshStore();
      const { uaid, channelId } = await registerDevice(store);
      const saves = Array.from({ length: 300 }, () => message(uaid, channelId));
      const batchesBefore = store.messageBatches.batches;
      const seenAtResolve = await Promise.all(
        saves.map(async (m) => {
          await store.saveMessage(m);
          // Read on another connection, outside the store: visible to others means committed.
          const found = await admin.query(`SELECT 1 FROM ${schema}.messages WHERE uaid = $1 AND id = $2`, [uaid, m.id]);
          return found.rowCount;
        }),
      );
      assert.ok(seenAtResolve.every((n) => n === 1));
      const batches = store.messageBatches.batches - batchesBefore;
      assert.ok(batches < 30, `300 saves took ${batches} statements`);
      await store.close();
      const reopened = await openOn(schema);
      assert.equal(await reopened.countMessages(uaid, T0), 300);
      await reopened.close();
    });

    test('one bad row in a batch fails alone; its neighbours are stored', async () => {
      const { store } = await freshStore();
      const { uaid, channelId } = await registerDevice(store);
      const gone = await registerDevice(store, T0, uaid);
      await store.deleteChannel(uaid, gone.channelId);
      const good = Array.from({ length: 40 }, () => message(uaid, channelId));
      const badValue = message(uaid, channelId, { ttl: 1.5 });
      const noChannel = message(uaid, gone.channelId);
      const results = await Promise.allSettled([...good.slice(0, 20), badValue, noChannel, ...good.slice(20)].map((m) => store.saveMessage(m)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 40);
      const [badResult, goneResult] = [results[20], results[21]];
      assert.equal(badResult?.status, 'rejected');
      assert.match(String((badResult as PromiseRejectedResult).reason), /bigint/);
      assert.equal(goneResult?.status, 'rejected');
      assert.ok((goneResult as PromiseRejectedResult).reason instanceof SubscriptionMissingError);
      const stored = await store.fetchMessages(uaid, { limit: 100, now: T0 });
      assert.deepEqual(new Set(stored.map((m) => m.id)), new Set(good.map((m) => m.id)));
      await store.close();
    });

    test('the messages of one channel keep the order they were saved in', async () => {
      const { store } = await freshStore();
      const { uaid, channelId } = await registerDevice(store);
      // One burst (shares batches) and then one at a time (one batch each): arrival order both ways.
      const burst = Array.from({ length: 120 }, () => message(uaid, channelId));
      await Promise.all(burst.map((m) => store.saveMessage(m)));
      const sequential = Array.from({ length: 5 }, () => message(uaid, channelId));
      for (const m of sequential) await store.saveMessage(m);
      const stored = await store.fetchMessages(uaid, { limit: 200, now: T0 });
      assert.deepEqual(stored.map((m) => m.id), [...burst, ...sequential].map((m) => m.id));
      await store.close();
    });

    test('parallel acks share statements and each learns whether its message was there', async () => {
      const { store } = await freshStore();
      const { uaid, channelId } = await registerDevice(store);
      const saved = Array.from({ length: 100 }, () => message(uaid, channelId));
      await Promise.all(saved.map((m) => store.saveMessage(m)));
      const batchesBefore = store.messageBatches.batches;
      const acks = [...saved.map((m) => m.id), saved[0]!.id, 'f'.repeat(32)];
      const answers = await Promise.all(acks.map((id) => store.deleteMessage(uaid, id)));
      assert.ok(store.messageBatches.batches - batchesBefore < 20);
      assert.equal(answers.filter(Boolean).length, 100, 'each stored message deleted once; the repeat and the unknown id find nothing');
      assert.equal(answers[101], false);
      assert.equal(await store.countMessages(uaid, T0), 0);
      await store.close();
    });

    test('a channel re-bound or dropped through another node takes no message, though this node cached it', async () => {
      const { store: nodeA, schema } = await freshStore();
      const nodeB = await openOn(schema);
      const { uaid, channelId } = await registerDevice(nodeA);
      assert.ok(await nodeA.getChannel(uaid, channelId)); // cached on node A: bound to no key
      await nodeB.putChannel({ uaid, channelId, senderKeyHash: Buffer.alloc(32, 9), createdAt: T0 + 1 });
      await assert.rejects(nodeA.saveMessage(message(uaid, channelId)), SubscriptionMissingError);
      // The refusal dropped the stale entry: node A reads the new binding.
      assert.ok((await nodeA.getChannel(uaid, channelId))?.senderKeyHash?.equals(Buffer.alloc(32, 9)));
      await nodeA.saveMessage(message(uaid, channelId));
      await nodeB.dropDevice(uaid);
      await assert.rejects(nodeA.saveMessage(message(uaid, channelId)), SubscriptionMissingError);
      assert.equal(await nodeB.countMessages(uaid, T0), 0);
      await nodeA.close();
      await nodeB.close();
    });
  });
}
