/**
 * Micro-benchmark of the PostgreSQL store, the twin of bench/store-sqlite.ts:
 *   node --import tsx bench/store-postgres.ts [devices=1000] [messagesPerDevice=20]
 * HERALD_TEST_POSTGRES_URL names the server (default postgres://postgres@127.0.0.1:5432/postgres);
 * the run uses a schema of its own, dropped at the end.
 * Prints saves/s (each save its own committed statement, as the endpoint does) at 1 and 64 in
 * flight, and the drain rate: fetch a batch of 10, delete each message as its ack arrives, until the
 * device is empty; once device after device (as the SQLite bench), once 64 devices at a time.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { cursorAfter } from '../src/store/cursor.js';
import { openStore } from '../src/store/open/open-store.js';
import type { DrainCursor, NewMessage, Store } from '../src/store/types.js';

const devices = Number(process.argv[2] ?? 1000);
const perDevice = Number(process.argv[3] ?? 20);
const batchSize = 10;
const inFlight = 64;

const serverUrl = process.env.HERALD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const schema = `herald_bench_${randomBytes(4).toString('hex')}`;
const url = new URL(serverUrl);
url.searchParams.set('schema', schema);
// Enough connections for 64 in flight to reach the server at once.
url.searchParams.set('pool_size', String(inFlight));

async function drain(store: Store, uaid: string, now: number): Promise<{ fetches: number; deleted: number }> {
  let fetches = 0;
  let deleted = 0;
  let after: DrainCursor | undefined;
  for (;;) {
    const batch = await store.fetchMessages(uaid, { after, limit: batchSize, now });
    fetches++;
    if (batch.length === 0) break;
    for (const message of batch) if (await store.deleteMessage(uaid, message.id)) deleted++;
    after = cursorAfter(after, batch);
  }
  return { fetches, deleted };
}

const store = await openStore(url.toString());
try {
  const now = Date.now();
  const fleet = Array.from({ length: devices }, () => ({ uaid: randomBytes(16).toString('hex'), channelId: randomUUID() }));
  for (const { uaid, channelId } of fleet) {
    await store.upsertDevice(uaid, now);
    await store.putChannel({ uaid, channelId, senderKeyHash: randomBytes(32), createdAt: now });
  }
  const payload = randomBytes(3000);

  const total = devices * perDevice;
  const makeMessage = (i: number): NewMessage => {
    const device = fleet[i % devices]!;
    return {
      id: randomBytes(16).toString('hex'),
      uaid: device.uaid,
      channelId: device.channelId,
      topic: i % 5 === 0 ? `t${i % 3}` : null,
      urgency: 'normal',
      ttl: 3600,
      receivedAt: now,
      expiresAt: now + 3_600_000,
      data: payload,
      headers: { encoding: 'aes128gcm' },
    };
  };
  const saveConcurrently = async (offset: number): Promise<number> => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < total) await store.saveMessage(makeMessage(offset + next++));
      }),
    );
    return (performance.now() - started) / 1000;
  };

  // One save at a time: every save is its own commit.
  let started = performance.now();
  for (let i = 0; i < total; i++) await store.saveMessage(makeMessage(i));
  const saveSeconds = (performance.now() - started) / 1000;

  // 64 saves in flight, as under concurrent POSTs, on 64 pooled connections.
  const concurrentSeconds = await saveConcurrently(total);

  // Device after device, each ack awaited before the next (as the SQLite bench).
  let fetches = 0;
  let deleted = 0;
  started = performance.now();
  for (const { uaid } of fleet) {
    const result = await drain(store, uaid, now);
    fetches += result.fetches;
    deleted += result.deleted;
  }
  const drainSeconds = (performance.now() - started) / 1000;

  // Refill, then 64 devices draining at once (many devices reconnecting to a cluster).
  await saveConcurrently(2 * total);
  let parallelDeleted = 0;
  let nextDevice = 0;
  started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (nextDevice < fleet.length) {
        const device = fleet[nextDevice++]!;
        const { deleted: drained } = await drain(store, device.uaid, now);
        parallelDeleted += drained;
      }
    }),
  );
  const parallelDrainSeconds = (performance.now() - started) / 1000;

  const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');
  console.log(`postgres store, ${devices} devices, ${total} saves of ${payload.length} B (topic on 1 in 5)`);
  console.log(`  saves, 1 in flight:  ${rate(total, saveSeconds)} /s`);
  console.log(`  saves, ${inFlight} in flight: ${rate(total, concurrentSeconds)} /s`);
  console.log(`  fetch (batch ${batchSize}): ${rate(fetches, drainSeconds)} fetches/s`);
  console.log(`  fetch+delete:   ${rate(deleted, drainSeconds)} messages/s (${deleted} drained; topic replacement left the rest)`);
  console.log(`  fetch+delete, ${inFlight} devices at once: ${rate(parallelDeleted, parallelDrainSeconds)} messages/s`);
} finally {
  await store.close();
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}
