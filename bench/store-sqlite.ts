/**
 * Micro-benchmark of the SQLite store on a file database:
 *   node --import tsx bench/store-sqlite.ts [devices=1000] [messagesPerDevice=20]
 * Prints saves/s (each save its own committed transaction, as the endpoint does) and the drain
 * rate: fetch a batch of 10, delete each message as its ack arrives, until the device is empty.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cursorAfter } from '../src/store/cursor.js';
import { openStore } from '../src/store/open/open-store.js';
import type { DrainCursor, NewMessage } from '../src/store/types.js';

const devices = Number(process.argv[2] ?? 1000);
const perDevice = Number(process.argv[3] ?? 20);
const batchSize = 10;

const dir = mkdtempSync(path.join(tmpdir(), 'herald-bench-'));
const store = await openStore(`sqlite:${path.join(dir, 'bench.db')}`);
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
  // One save at a time: every save is its own commit.
  let started = performance.now();
  for (let i = 0; i < total; i++) await store.saveMessage(makeMessage(i));
  const saveSeconds = (performance.now() - started) / 1000;

  // 64 saves in flight, as under concurrent POSTs: group commit shares transactions between them.
  const inFlight = 64;
  let next = 0;
  started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) await store.saveMessage(makeMessage(total + next++));
    }),
  );
  const concurrentSeconds = (performance.now() - started) / 1000;

  let fetches = 0;
  let deleted = 0;
  started = performance.now();
  for (const { uaid } of fleet) {
    let after: DrainCursor | undefined;
    for (;;) {
      const batch = await store.fetchMessages(uaid, { after, limit: batchSize, now });
      fetches++;
      if (batch.length === 0) break;
      for (const message of batch) if (await store.deleteMessage(uaid, message.id)) deleted++;
      after = cursorAfter(after, batch);
    }
  }
  const drainSeconds = (performance.now() - started) / 1000;

  const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');
  console.log(`sqlite file store, ${devices} devices, ${total} saves of ${payload.length} B (topic on 1 in 5)`);
  console.log(`  saves, 1 in flight:  ${rate(total, saveSeconds)} /s`);
  console.log(`  saves, ${inFlight} in flight: ${rate(total, concurrentSeconds)} /s`);
  console.log(`  fetch (batch ${batchSize}): ${rate(fetches, drainSeconds)} fetches/s`);
  console.log(`  fetch+delete:   ${rate(deleted, drainSeconds)} messages/s (${deleted} drained; topic replacement left the rest)`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
