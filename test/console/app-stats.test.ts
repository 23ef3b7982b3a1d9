/**
 * The per-app counters behind the console's charts: the in-memory counter (src/ops/app-stats.ts),
 * what a running Herald counts (delivered = acked by the device, expired = TTL 0 dropped or swept
 * from storage) on SQLite and PostgreSQL, the hourly rows it flushes into (push store migration 7),
 * and the bucketing and percentiles the stats route answers.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addCounts, AppStatsCounter, bucketOf, emptyRow, hourOf, quantileMs } from '../../src/ops/app-stats.js';
import { keyHashOf } from '../../src/console/routes-apps.js';
import { bucketize } from '../../src/console/routes-stats.js';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AppStatsRow, AppStatsStore, Store } from '../../src/store/types.js';
import { ManualClock } from '../helpers/clock.js';
import { RawDevice, startHerald, subscribedDevice, type Running } from '../helpers/herald.js';
import { post, vapidHeader, type VapidKeys } from '../helpers/sender.js';
import { deleteRedisKeys, postgresUnavailable, postgresUrl, redisUnavailable, redisUrl, requireServices, uniquePrefix } from '../helpers/services.js';

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
    for (let i = 0; i < 3; i++) counter.accepted(keyA, 'delivered');
    for (let i = 0; i < 2; i++) counter.delivered(keyA, 3); // two of them acked
    counter.accepted(Buffer.from(keyA), 'stored'); // another Buffer with the same bytes: the same app
    counter.accepted(keyA, 'dropped');
    counter.expired(keyA, 4); // swept from storage
    counter.refused(keyA);
    counter.accepted(keyB, 'stored');
    await counter.flush();
    assert.equal(store.flushes.length, 1);
    const [a, b] = store.flushes[0] ?? [];
    assert.deepEqual(a?.keyHash, keyA);
    assert.deepEqual({ ...a, latency: undefined, keyHash: undefined }, { keyHash: undefined, hour: hourOf(now), accepted: 5, delivered: 2, stored: 1, expired: 5, refused: 1, latency: undefined });
    assert.equal(a?.latency[bucketOf(3)], 2, 'two acks in the 5 ms bucket');
    assert.equal(a?.latency.reduce((sum, n) => sum + n, 0), 2, 'a handed-over message without its ack has no latency');
    assert.equal(b?.accepted, 1);
    await counter.flush();
    assert.deepEqual(store.flushes[1], [], 'nothing new: an empty batch, the counts were not sent twice');
    now += HOUR;
    counter.accepted(keyA, 'stored');
    await counter.flush();
    assert.equal(store.flushes[2]?.[0]?.hour, hourOf(T0) + 1);
  });

  it('keeps the counts of an hour that ended before the flush apart from the next hour', async () => {
    let now = T0 + HOUR - 1;
    const store = recordingStore();
    const counter = new AppStatsCounter({ store: () => store, now: () => now });
    counter.accepted(keyA, 'stored');
    now += 2;
    counter.accepted(keyA, 'stored');
    counter.accepted(keyA, 'stored');
    await counter.flush();
    const rows = (store.flushes[0] ?? []).map((row) => [row.hour, row.accepted]);
    assert.deepEqual(rows.sort(), [[hourOf(T0), 1], [hourOf(T0) + 1, 2]]);
  });

  it('a failed flush keeps its counts for the next one, and stop() flushes what is left', async () => {
    const store = recordingStore();
    const counter = new AppStatsCounter({ store: () => store, now: () => T0, flushIntervalMs: 60_000, onError: () => {} });
    counter.accepted(keyA, 'stored');
    store.fail = true;
    await counter.flush();
    store.fail = false;
    counter.accepted(keyA, 'stored');
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

/** A connected device with one channel bound to `keys` (v2), and a push signed by them. */
async function boundDevice(running: Running, keys: VapidKeys, channelId = randomUUID()) {
  const device = await RawDevice.connect(running.wsUrl);
  const uaid = await device.hello();
  const endpoint = await device.register(channelId, keys.publicKey);
  const push = async (ttl: number) => assert.equal((await post(endpoint, { TTL: String(ttl), authorization: vapidHeader(running.origin, keys) })).status, 201);
  return { device, uaid, channelId, push };
}

/** The app's counts over the last hours, summed (a test may cross an hour). */
async function countsOf(store: Store, keys: VapidKeys, now: number): Promise<AppStatsRow> {
  const sum = emptyRow(keyHashOf(keys.publicKey), hourOf(now));
  for (const row of await store.appStats.appStats(sum.keyHash, hourOf(now) - 2, hourOf(now) + 1)) addCounts(sum, row);
  return sum;
}

/**
 * Through a running Herald: what each app's counts say once the devices acked, nacked, left, or
 * never fetched (docs/console.md, "Per-app stats"). One app per story, so each count is its own.
 */
async function deliveryScenario(overrides: Parameters<typeof startHerald>[0]): Promise<void> {
  const clock = new ManualClock({ ticking: true });
  const running = await startHerald(overrides, undefined, { now: clock.now });
  const app = { live: generateVapidKeyPair(), drained: generateVapidKeyPair(), ignored: generateVapidKeyPair(), refused: generateVapidKeyPair(), gone: generateVapidKeyPair(), expired: generateVapidKeyPair() };
  try {
    // A live message, acked 300 ms (of Herald's clock) after its POST arrived.
    const live = await boundDevice(running, app.live);
    await live.push(60);
    const notification = await live.device.next('notification');
    clock.advance(300);
    live.device.ack(notification);

    // Stored while the device was away, drained at its hello, then acked.
    const drained = await boundDevice(running, app.drained);
    drained.device.close();
    await drained.device.closed;
    await drained.push(600);
    const back = await RawDevice.connect(running.wsUrl);
    assert.equal(await back.hello(drained.uaid), drained.uaid);
    back.ack(await back.next('notification'));

    // Handed over, never acked: the socket closes first.
    const ignored = await boundDevice(running, app.ignored);
    await ignored.push(60);
    await ignored.device.next('notification');
    ignored.device.close();

    // Nacked, and acked with 102 ("not delivered"): neither reached the app.
    const refused = await boundDevice(running, app.refused);
    await refused.push(60);
    refused.device.send({ messageType: 'nack', version: (await refused.device.next('notification')).version, code: 302 });
    await refused.push(60);
    const notDelivered = await refused.device.next('notification');
    refused.device.send({ messageType: 'ack', updates: [{ channelID: notDelivered.channelID, version: notDelivered.version, code: 102 }] });

    // The channel is unregistered before the ack: the ack names a message that can no longer count.
    const gone = await boundDevice(running, app.gone);
    await gone.push(60);
    const orphan = await gone.device.next('notification');
    gone.device.send({ messageType: 'unregister', channelID: gone.channelId });
    await gone.device.next('unregister');
    gone.device.ack(orphan);

    // Stored with a 60 s TTL for a device that never comes back; the sweep deletes it.
    const expired = await boundDevice(running, app.expired);
    expired.device.close();
    await expired.device.closed;
    await expired.push(60);

    // Every ack is handled before the sweep runs (frames are handled in order: a ping answers after them).
    for (const device of [live.device, back, refused.device, gone.device]) {
      device.send({});
      await device.next('ping');
    }
    clock.advance(61_000);
    // The never-acked and the nacked messages stay stored, so they expire too: three in all.
    assert.equal((await running.herald.sweep()).expiredMessages, 3);
    for (const device of [live.device, back, refused.device, gone.device]) device.close();
  } finally {
    await running.stop({ keepData: true }); // the counter's last flush
  }
  const store = await running.store();
  try {
    const now = clock.now();
    const counts = async (keys: VapidKeys) => {
      const row = await countsOf(store, keys, now);
      return { accepted: row.accepted, delivered: row.delivered, stored: row.stored, expired: row.expired, latencies: row.latency.reduce((sum, n) => sum + n, 0) };
    };
    assert.deepEqual(await counts(app.live), { accepted: 1, delivered: 1, stored: 0, expired: 0, latencies: 1 });
    const latency = (await countsOf(store, app.live, now)).latency;
    assert.ok((latency[bucketOf(300)] ?? 0) + (latency[bucketOf(300) + 1] ?? 0) === 1, `measured to the ack, not to the hand-off: ${latency.join(',')}`);
    assert.deepEqual(await counts(app.drained), { accepted: 1, delivered: 1, stored: 1, expired: 0, latencies: 1 });
    assert.deepEqual(await counts(app.ignored), { accepted: 1, delivered: 0, stored: 0, expired: 1, latencies: 0 });
    assert.deepEqual(await counts(app.refused), { accepted: 2, delivered: 0, stored: 0, expired: 1, latencies: 0 }, 'the nacked one expired; the one acked 102 was deleted');
    assert.deepEqual(await counts(app.gone), { accepted: 1, delivered: 0, stored: 0, expired: 0, latencies: 0 });
    assert.deepEqual(await counts(app.expired), { accepted: 1, delivered: 0, stored: 1, expired: 1, latencies: 0 });
  } finally {
    await store.close();
    rmSync(running.dataDir, { recursive: true, force: true });
  }
}

describe('per-app counts through a running Herald', () => {
  it('SQLite: delivered means acked (live or drained), with the latency to the ack; expired counts the sweep', { timeout: 30_000 }, async () => {
    await deliveryScenario({});
  });
});

const unavailable = await postgresUnavailable();
requireServices([unavailable], (skip) => {
  describe('per-app counts through a running Herald on PostgreSQL', { skip }, () => {
    it('PostgreSQL: delivered means acked (live or drained), with the latency to the ack; expired counts the sweep', { timeout: 30_000 }, async () => {
      const schema = `herald_test_${randomBytes(6).toString('hex')}`;
      const url = new URL(postgresUrl);
      url.searchParams.set('schema', schema);
      const admin = new pg.Pool({ connectionString: postgresUrl, max: 1 });
      try {
        await deliveryScenario({ store: { url: url.toString() } });
      } finally {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      }
    });
  });

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

requireServices([unavailable, await redisUnavailable()], (skip) => {
  describe('per-app counts across two nodes (PostgreSQL and the Redis bus)', { skip }, () => {
    it("a push to node B for a device on node A is delivered when A's device acks it: the key crosses the bus", { timeout: 30_000 }, async () => {
      const schema = `herald_test_${randomBytes(6).toString('hex')}`;
      const url = new URL(postgresUrl);
      url.searchParams.set('schema', schema);
      const keyPrefix = uniquePrefix('app-stats');
      const shared = { store: { url: url.toString() }, bus: { url: redisUrl, keyPrefix } };
      const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-test-'));
      const admin = new pg.Pool({ connectionString: postgresUrl, max: 1 });
      const nodeA = await startHerald(shared, dataDir);
      const nodeB = await startHerald(shared, dataDir);
      const keys = generateVapidKeyPair();
      try {
        const subscribed = await subscribedDevice(nodeA.wsUrl, randomUUID(), keys.publicKey);
        subscribed.device.close();
        await subscribed.device.closed;
        // A new connection knows no channel's binding of its own: only the bus can tell it the key.
        const device = await RawDevice.connect(nodeA.wsUrl);
        assert.equal(await device.hello(subscribed.uaid), subscribed.uaid);
        const endpoint = subscribed.endpoint;
        // The same subscription, POSTed to node B (VAPID's audience is B's origin).
        const atB = endpoint.replace(nodeA.origin, nodeB.origin);
        assert.equal((await post(atB, { authorization: vapidHeader(nodeB.origin, keys) })).status, 201);
        device.ack(await device.next('notification'));
        device.send({});
        await device.next('ping');
        device.close();
      } finally {
        await nodeB.stop({ keepData: true });
        await nodeA.stop({ keepData: true });
      }
      const store = new PostgresStore(parsePostgresUrl(url.toString()));
      try {
        const row = await countsOf(store, keys, Date.now());
        assert.deepEqual([row.accepted, row.delivered, row.stored], [1, 1, 0], 'accepted on B, delivered on A');
      } finally {
        await store.close();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
        await deleteRedisKeys(keyPrefix);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
