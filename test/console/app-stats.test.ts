/**
 * The per-app counters behind the console's charts: the in-memory counter (src/ops/app-stats.ts),
 * the hourly rows it flushes into (push store migration 7) on SQLite and PostgreSQL, and the
 * bucketing and percentiles the stats route answers.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { AppStatsCounter, bucketOf, emptyRow, hourOf, quantileMs } from '../../src/ops/app-stats.js';
import { bucketize } from '../../src/console/routes-stats.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AppStatsRow, AppStatsStore, Store } from '../../src/store/types.js';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR);
const keyA = createHash('sha256').update('app A').digest();
const keyB = createHash('sha256').update('app B').digest();

/** An AppStatsStore that records what each flush sent. */
function recordingStore(): AppStatsStore & { flushes: AppStatsRow[][]; fail: boolean } {
  const store = {
    flushes: [] as AppStatsRow[][],
    fail: false,
    async addAppStats(rows: readonly AppStatsRow[]) {
      if (store.fail) throw new Error('storage down');
      store.flushes.push(rows.map((row) => ({ ...row, latency: [...row.latency] })));
    },
    async appStats() {
      return [];
    },
    async pruneAppStats() {
      return 0;
    },
  };
  return store;
}

describe('per-app counters', () => {
  it('counts each outcome under its key and sends one batch per flush', async () => {
    let now = T0 + 10;
    const store = recordingStore();
    const counter = new AppStatsCounter({ store: () => store, now: () => now });
    for (let i = 0; i < 3; i++) counter.accepted(keyA, 'delivered', 0.003);
    counter.accepted(Buffer.from(keyA), 'stored', 0.001); // another Buffer with the same bytes: the same app
    counter.accepted(keyA, 'dropped', 0.001);
    counter.refused(keyA);
    counter.accepted(keyB, 'stored', 0.002);
    await counter.flush();
    assert.equal(store.flushes.length, 1);
    const [a, b] = store.flushes[0] ?? [];
    assert.deepEqual(a?.keyHash, keyA);
    assert.deepEqual({ ...a, latency: undefined, keyHash: undefined }, { keyHash: undefined, hour: hourOf(now), accepted: 5, delivered: 3, stored: 1, expired: 1, refused: 1, latency: undefined });
    assert.equal(a?.latency[bucketOf(3)], 3, 'three live deliveries in the 5 ms bucket');
    assert.equal(b?.accepted, 1);
    await counter.flush();
    assert.deepEqual(store.flushes[1], [], 'nothing new: an empty batch, the counts were not sent twice');
    now += HOUR;
    counter.accepted(keyA, 'stored', 0.001);
    await counter.flush();
    assert.equal(store.flushes[2]?.[0]?.hour, hourOf(T0) + 1);
  });

  it('keeps the counts of an hour that ended before the flush apart from the next hour', async () => {
    let now = T0 + HOUR - 1;
    const store = recordingStore();
    const counter = new AppStatsCounter({ store: () => store, now: () => now });
    counter.accepted(keyA, 'stored', 0.001);
    now += 2;
    counter.accepted(keyA, 'stored', 0.001);
    counter.accepted(keyA, 'stored', 0.001);
    await counter.flush();
    const rows = (store.flushes[0] ?? []).map((row) => [row.hour, row.accepted]);
    assert.deepEqual(rows.sort(), [[hourOf(T0), 1], [hourOf(T0) + 1, 2]]);
  });

  it('a failed flush keeps its counts for the next one, and stop() flushes what is left', async () => {
    const store = recordingStore();
    const counter = new AppStatsCounter({ store: () => store, now: () => T0, flushIntervalMs: 60_000, onError: () => {} });
    counter.accepted(keyA, 'stored', 0.001);
    store.fail = true;
    await counter.flush();
    store.fail = false;
    counter.accepted(keyA, 'stored', 0.001);
    await counter.start();
    await counter.stop();
    const sent = store.flushes.flat().reduce((sum, row) => sum + row.accepted, 0);
    assert.equal(sent, 2, 'both messages reached the store once');
    assert.equal(store.flushes.flat().length, 1, "the kept row and the new one of the same hour went as one (PostgreSQL's upsert takes a row once per statement)");
  });

  it('percentiles come from the bucket counts', () => {
    const latency = emptyRow(keyA, 0).latency;
    latency[bucketOf(0.5)] = 90; // ≤ 1 ms
    latency[bucketOf(40)] = 9; // ≤ 50 ms
    latency[bucketOf(800)] = 1; // ≤ 1000 ms
    assert.equal(quantileMs(latency, 0.5), 1);
    assert.equal(quantileMs(latency, 0.99), 50);
    assert.equal(quantileMs(latency, 1), 1000);
    assert.equal(quantileMs(emptyRow(keyA, 0).latency, 0.5), null);
    assert.equal(bucketOf(99_999), latency.length - 1, 'beyond the last bound: the last bucket');
  });

  it('hourly rows add up into day buckets, with empty hours as zeros', () => {
    const from = 24 * 1000;
    const rows = [
      { ...emptyRow(keyA, from + 1), accepted: 2 },
      { ...emptyRow(keyA, from + 23), accepted: 3 },
      { ...emptyRow(keyA, from + 24), accepted: 7 },
    ];
    const days = bucketize(rows, from, 3, 24);
    assert.deepEqual(days.map((day) => day.accepted), [5, 7, 0]);
    assert.equal(days[1]?.start, (from + 24) * HOUR);
  });
});

async function storeScenario(store: Store): Promise<void> {
  const hour = hourOf(T0);
  const row = (accepted: number, bucket: number): AppStatsRow => {
    const counts = { ...emptyRow(keyA, hour), accepted, delivered: accepted, refused: 1 };
    counts.latency[bucket] = accepted;
    return counts;
  };
  await store.appStats.addAppStats([row(2, 1), { ...emptyRow(keyB, hour), stored: 4 }]);
  await store.appStats.addAppStats([row(3, 1)]);
  await store.appStats.addAppStats([{ ...emptyRow(keyA, hour - 100), accepted: 9 }]);
  const [old, current] = await store.appStats.appStats(keyA, hour - 200, hour + 1);
  assert.equal(old?.accepted, 9);
  assert.equal(current?.accepted, 5, 'a second flush adds to the row');
  assert.equal(current?.refused, 2);
  assert.equal(current?.latency[1], 5);
  assert.deepEqual(current?.keyHash, keyA);
  assert.deepEqual(await store.appStats.appStats(keyA, hour + 1, hour + 2), []);
  assert.equal((await store.appStats.appStats(keyB, hour, hour + 1))[0]?.stored, 4, "another app's row is its own");
  assert.equal(await store.appStats.pruneAppStats(hour - 50), 1);
  assert.equal((await store.appStats.appStats(keyA, hour - 200, hour + 1)).length, 1);
}

describe('hourly app stats rows (push store migration 7)', () => {
  it('SQLite: flushes add to the row of their key and hour, ranges and pruning', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    try {
      await storeScenario(store);
    } finally {
      await store.close();
    }
  });
});

const unavailable = await postgresUnavailable();
requireServices([unavailable], (skip) => {
  describe('hourly app stats rows on PostgreSQL', { skip }, () => {
    it('PostgreSQL: flushes add to the row of their key and hour, ranges and pruning', async () => {
      const schema = `herald_test_${randomBytes(6).toString('hex')}`;
      const url = new URL(postgresUrl);
      url.searchParams.set('schema', schema);
      const store = new PostgresStore(parsePostgresUrl(url.toString()));
      const admin = new pg.Pool({ connectionString: postgresUrl, max: 1 });
      try {
        await store.migrate();
        await storeScenario(store);
      } finally {
        await store.close();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      }
    });
  });
});
