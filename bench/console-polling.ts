/**
 * Does the web console slow the POST path? One Herald (SQLite) child process, devices whose
 * channels are bound to one app's VAPID key (v2 endpoints, so every push feeds the per-app
 * counters), a closed loop of signed POSTs; runs alternate between no console and a signed-in
 * console polling the app's charts route (both ranges) every --poll-ms. Prints msg/s and the
 * server's CPU per message for each, and the counter's own cost per call measured in-process.
 *
 *   node --import tsx bench/console-polling.ts [--messages=20000] [--devices=200] [--in-flight=64]
 *                                              [--poll-ms=250] [--runs=3]
 */
import { parseArgs } from 'node:util';
import { AppStatsCounter } from '../src/ops/app-stats.js';
import { generateVapidKeyPair, sha256 } from '../src/crypto/vapid.js';
import type { AppStatsStore } from '../src/store/types.js';
import { ConsoleClient, createAccount } from '../test/console/harness.js';
import { vapidHeader } from '../test/helpers/sender.js';
import { closeFleet, connectFleet } from './lib/devices.js';
import { closedLoop } from './lib/load.js';
import { makeBodies, PushSender } from './lib/sender.js';
import { startHerald } from './lib/server.js';

const { values: flags } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    devices: { type: 'string', default: '200' },
    'in-flight': { type: 'string', default: '64' },
    'poll-ms': { type: 'string', default: '250' },
    runs: { type: 'string', default: '3' },
  },
  strict: true,
});
const MESSAGES = Number(flags.messages);
const DEVICES = Number(flags.devices);
const IN_FLIGHT = Number(flags['in-flight']);
const POLL_MS = Number(flags['poll-ms']);
const RUNS = Number(flags.runs);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/**
 * The counter alone: ns per message with a cached keyHash Buffer (the common case): accepted() at
 * the POST, and for two in three delivered() at the device's ack.
 */
function counterCostNs(): number {
  const store: AppStatsStore = { addAppStats: async () => {}, appStats: async () => [], pruneAppStats: async () => 0 };
  const counter = new AppStatsCounter({ store: () => store, now: Date.now });
  const key = sha256(Buffer.from('app'));
  const calls = 5_000_000;
  for (let i = 0; i < 100_000; i++) counter.accepted(key, 'delivered');
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    if (i % 3 === 0) counter.accepted(key, 'stored');
    else {
      counter.accepted(key, 'delivered');
      counter.delivered(key, 2);
    }
  }
  return Number(process.hrtime.bigint() - started) / calls;
}

async function main(): Promise<void> {
  const server = await startHerald({ settings: { 'accounts.passwordMemoryKiB': 1024, 'accounts.passwordPasses': 1 } });
  const keys = generateVapidKeyPair();
  const email = 'bench@example.com';
  await createAccount(server.origin, email);
  const client = new ConsoleClient(server.origin);
  if ((await client.signIn(email)).status !== 200) throw new Error('console sign-in failed');
  const imported = await client.request('POST', '/console/api/apps/import', { name: 'bench', publicKey: keys.publicKey, proof: vapidHeader(server.origin, keys) });
  const appId = (imported.body.app as { id: string }).id;
  const devices = await connectFleet(DEVICES, { url: server.wsUrl, register: true, key: keys.publicKey, onNotification: () => {} });
  const bodies = makeBodies(DEVICES, 200);
  // One JWT for the whole run, as web-push reuses one: the endpoint's verified-JWT cache applies.
  const sender = new PushSender(server.origin, 60, IN_FLIGHT, { Authorization: vapidHeader(server.origin, keys, 12 * 3600) });
  const send = async (i: number) => void (await sender.post((devices[i % DEVICES] as { endpointPath: string }).endpointPath, bodies[i % DEVICES] ?? null));
  await closedLoop(2000, IN_FLIGHT, send); // warm-up

  const results: Record<'without' | 'with', { rate: number[]; cpu: number[]; polls: number[] }> = {
    without: { rate: [], cpu: [], polls: [] },
    with: { rate: [], cpu: [], polls: [] },
  };
  for (let run = 0; run < RUNS; run++) {
    for (const mode of ['without', 'with'] as const) {
      let polls = 0;
      let polling = mode === 'with';
      const poller = (async () => {
        while (polling) {
          for (const range of ['hours', 'days']) {
            const answer = await client.request('GET', `/console/api/apps/${appId}/stats?range=${range}`);
            if (answer.status !== 200) throw new Error(`stats answered ${answer.status}`);
            polls++;
          }
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
      })();
      const cpuBefore = server.cpuSeconds();
      const started = process.hrtime.bigint();
      await closedLoop(MESSAGES, IN_FLIGHT, send);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = server.cpuSeconds() - cpuBefore;
      polling = false;
      await poller;
      results[mode].rate.push(MESSAGES / seconds);
      results[mode].cpu.push((cpu / MESSAGES) * 1e6);
      results[mode].polls.push(polls);
      process.stderr.write(`run ${run + 1} ${mode} console polling: ${Math.round(MESSAGES / seconds)} msg/s, ${((cpu / MESSAGES) * 1e6).toFixed(1)} µs server CPU/msg, ${polls} stats answers\n`);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 6000)); // the counters' next flush (every 5 s)
  const stats = await client.request('GET', `/console/api/apps/${appId}/stats?range=hours`);
  const counted = (stats.body.buckets as Array<{ accepted: number }>).reduce((sum, bucket) => sum + bucket.accepted, 0);
  await closeFleet(devices);
  sender.close();
  await server.stop();
  if (sender.failures > 0) throw new Error(`${sender.failures} POSTs failed: ${sender.lastFailure}`);
  for (const mode of ['without', 'with'] as const) {
    const r = results[mode];
    console.log(`${mode.padEnd(7)} console polling: ${Math.round(median(r.rate))} msg/s, ${median(r.cpu).toFixed(1)} µs server CPU/msg (median of ${RUNS}; ${median(r.polls)} stats answers per run, every ${POLL_MS} ms)`);
  }
  console.log(`counted by the charts (accepted, last 48 h): ${counted} of ${2000 + 2 * RUNS * MESSAGES}`);
  console.log(`AppStatsCounter alone: ${counterCostNs().toFixed(1)} ns per message, accepted() and, for 2 in 3, delivered() (cached keyHash Buffer)`);
}

await main();
