/**
 * The SQLite WAL under sustained writes (issue 14 item 5):
 *   node --import tsx bench/wal-sustained.ts [--minutes=10] [--rate=3000] [--payload-bytes=3000]
 * A SqliteStore on a file takes `rate` messages/s (group-committed, as the endpoint does) for
 * 1,000 devices, and a drain deletes them as acks would, about a second behind. Every second it
 * samples the WAL file's size; throughout it measures the event loop's delay (a checkpoint that
 * stalled the loop would show there). Prints the largest WAL, the WAL at the end, and the
 * event-loop delay p50/p99/max.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openStore } from '../src/store/open/open-store.js';
import type { NewMessage } from '../src/store/types.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '3000' }, 'payload-bytes': { type: 'string', default: '3000' } } });
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const payload = randomBytes(Number(values['payload-bytes']));

const dir = mkdtempSync(path.join(tmpdir(), 'herald-wal-'));
const file = path.join(dir, 'herald.db');
const store = await openStore(`sqlite:${file}`);
const fleet = Array.from({ length: 1000 }, () => ({ uaid: randomBytes(16).toString('hex'), channelId: randomUUID() }));
for (const { uaid, channelId } of fleet) {
  await store.upsertDevice(uaid, Date.now());
  await store.putChannel({ uaid, channelId, senderKeyHash: null, createdAt: Date.now() });
}

const walSize = () => (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
let maxWal = 0;
let saved = 0;
let deleted = 0;
const pending: Array<{ uaid: string; id: string; at: number }> = [];
const started = Date.now();
const endAt = started + minutes * 60_000;
const samples: string[] = [];

const sampler = setInterval(() => {
  const size = walSize();
  maxWal = Math.max(maxWal, size);
  const second = Math.round((Date.now() - started) / 1000);
  if (second % 30 === 0) samples.push(`${second}s: WAL ${(size / 1048576).toFixed(1)} MiB, saved ${saved}, deleted ${deleted}`);
}, 1000);

// Each 10 ms tick saves rate/100 messages and deletes those older than a second (the acks).
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const now = Date.now();
    if (now >= endAt) {
      clearInterval(tick);
      resolve();
      return;
    }
    for (let i = 0; i < rate / 100; i++) {
      const device = fleet[(saved + i) % fleet.length] as (typeof fleet)[number];
      const message: NewMessage = {
        id: randomBytes(16).toString('hex'),
        uaid: device.uaid,
        channelId: device.channelId,
        topic: null,
        urgency: 'normal',
        ttl: 3600,
        receivedAt: now,
        expiresAt: now + 3_600_000,
        data: payload,
        headers: { encoding: 'aes128gcm' },
      };
      pending.push({ uaid: device.uaid, id: message.id, at: now });
      void store.saveMessage(message).then(() => saved++);
    }
    while (pending.length > 0 && (pending[0] as { at: number }).at < now - 1000) {
      const { uaid, id } = pending.shift() as { uaid: string; id: string };
      void store.deleteMessage(uaid, id).then(() => deleted++);
    }
  }, 10);
});

clearInterval(sampler);
await new Promise((resolve) => setTimeout(resolve, 3000));
const endWal = walSize();
delay.disable();
await store.close();
const ms = (ns: number) => (ns / 1e6).toFixed(1);
console.log(samples.join('\n'));
console.log(`sustained ${minutes} min at ${rate} msg/s (${payload.length}-byte payloads): saved ${saved}, deleted ${deleted}`);
console.log(`WAL largest ${(maxWal / 1048576).toFixed(1)} MiB, after the load ${(endWal / 1048576).toFixed(1)} MiB (target ≤ 64 MiB)`);
console.log(`event-loop delay p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms (target: no stall > 20 ms from a checkpoint)`);
rmSync(dir, { recursive: true, force: true });
