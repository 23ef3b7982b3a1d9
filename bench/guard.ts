/**
 * The guard's cost per POST, in process (issue 14 item 3):
 *   node --import tsx bench/guard.ts [--messages=200000] [--devices=1000]
 * Runs what the endpoint asks of the guard for one message (source, ban check, the four rate
 * limits, the backlog caps on their fast path) against in-memory counters, and prints CPU µs per
 * message: once on the guard itself, once through the sender endpoint's wrapper (endpoint-guard.ts,
 * what routes.ts awaits: a request object per message, its source remembered per request).
 * CPU time (process.cpuUsage), not wall time: it moves less when the machine is busy.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { validateConfig } from '../src/config/load.js';
import type { FastifyRequest } from 'fastify';
import { senderGuard } from '../src/guard/endpoint-guard.js';
import { Guard } from '../src/guard/guard.js';
import type { Store } from '../src/store/types.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '200000' }, devices: { type: 'string', default: '1000' } } });
const messages = Number(values.messages);
const devices = Array.from({ length: Number(values.devices) }, () => ({ uaid: randomBytes(16).toString('hex'), channelId: randomBytes(16).toString('hex') }));
const senderKeyHash = randomBytes(32);
const config = validateConfig({ dataDir: '/tmp/unused' });
// Generous windows: the bench measures the checks, not refusals.
const guard = new Guard({ ...config.guard, perSource: { points: 1e9, seconds: 1 }, perSubscription: { points: 1e9, seconds: 60 }, perDevice: { points: 1e9, seconds: 60 }, perSenderKey: { points: 1e9, seconds: 1 } }, { url: 'local', keyPrefix: 'bench' }, {}, Date.now, config.push.msgLimit);
// The backlog caps ask storage only near a cap; these devices are empty, as connected ones are.
const store = { deviceBacklog: async () => ({ messages: 0, bytes: 0 }), countChannelMessages: async () => 0 } as unknown as Store;

async function oneMessage(i: number, peer: string): Promise<void> {
  const device = devices[i % devices.length] as (typeof devices)[number];
  const source = guard.source(peer);
  if (await guard.banned(source)) throw new Error('banned');
  if (await guard.limitSend(source, { uaid: device.uaid, channelId: device.channelId, senderKeyHash })) throw new Error('limited');
  const reserved = await guard.reserveBacklog(store, device, Date.now(), 3000);
  if ('refusal' in reserved) throw new Error('backlog');
  reserved.release();
}

const endpoint = senderGuard(guard, store);

/** The same checks as routes.ts makes them, each awaited, on a fresh request per message. */
async function oneRequest(i: number, peer: string): Promise<void> {
  const device = devices[i % devices.length] as (typeof devices)[number];
  const request = { socket: { remoteAddress: peer }, headers: {} } as unknown as FastifyRequest;
  await endpoint.admit(request);
  await endpoint.limit(request, { uaid: device.uaid, channelId: device.channelId, senderKeyHash });
  const release = await endpoint.reserveBacklog(device, Date.now(), 3000);
  release();
}

async function measure(label: string, one: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < 20_000; i++) await one(i); // warm-up
  const before = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < messages; i++) await one(i);
  const cpu = process.cpuUsage(before);
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`${label}: ${((cpu.user + cpu.system) / messages).toFixed(2)} µs CPU per message (${messages} messages, ${wallMs.toFixed(0)} ms wall)`);
}

for (const [label, peer] of [['loopback (exempt from the per-source limit)', '127.0.0.1'], ['a public source', '203.0.113.9']] as const) {
  await measure(`guard, ${label}`, (i) => oneMessage(i, peer));
  await measure(`  through the endpoint's wrapper`, (i) => oneRequest(i, peer));
}
await guard.close();
