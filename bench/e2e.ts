/**
 * End-to-end benchmark of a real Herald process (`npm run bench`):
 *   1. messages/s with 1,000 connected devices (POST → socket → ack), 64 POSTs in flight,
 *      after 5,000 warm-up messages; medians of 3 runs of 20,000
 *   2. p50/p99 POST-to-delivery latency at half of that rate (paced)
 *   3. RSS per idle connection at 10,000 connections
 *   4. store-and-forward: 1,000 offline devices × 20 messages, then all reconnect and drain
 * Prints a table and writes bench/results/latest.json.
 *
 *   npm run bench                      all four figures (~2-3 minutes)
 *   npm run bench -- --quick           smaller counts, 1 run each (a smoke test of the harness)
 *   npm run bench -- --only=e2e,drain  a subset: e2e (1 and 2), rss, drain
 *   npm run bench -- --runs=5 --in-flight=128 --payload-bytes=0   other counts, concurrency, empty bodies
 *   npm run bench -- --profile=e2e     no figures: run the e2e load once under --cpu-prof and print
 *                                      the server's top costs (also --profile=drain)
 */
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatSummary, summarizeProfile } from './lib/cpuprofile.js';
import { closeFleet, connectFleet, type BenchDevice, type NotificationHandler } from './lib/devices.js';
import { readMachineBusySeconds, REPO_ROOT, startHerald, type HeraldProcess } from './lib/server.js';
import { makeBodies, PushSender } from './lib/sender.js';
import { formatTable, median, percentile, round, sleep, type Figure } from './lib/stats.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'string' },
    runs: { type: 'string' },
    'in-flight': { type: 'string' },
    'payload-bytes': { type: 'string' },
    /** `section.option=value` for every Herald started (e.g. guard.enabled=false to compare). */
    set: { type: 'string', multiple: true },
  },
  strict: true,
});

const quick = flags.quick === true;
const params = {
  devices: 1000,
  warmupMessages: quick ? 500 : 5000,
  messages: quick ? 5000 : 20_000,
  inFlight: Number(flags['in-flight'] ?? 64),
  runs: Number(flags.runs ?? (quick ? 1 : 3)),
  ttlSeconds: 60,
  /** Plaintext bytes per message; each device gets one real aes128gcm body, reused. 0 = empty body. */
  payloadBytes: Number(flags['payload-bytes'] ?? 200),
  latencyFractionOfPeak: 0.5,
  latencySeconds: quick ? 3 : 10,
  idleConnections: quick ? 2000 : 10_000,
  idleSeconds: 5,
  drainDevices: 1000,
  drainPerDevice: 20,
  /** Loopback source addresses the devices bind to (a source address reaches ~28k ports). */
  localAddresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'],
};
const settings = Object.fromEntries((flags.set ?? []).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
const only = new Set((flags.only ?? 'e2e,rss,drain').split(',').map((name) => name.trim()));

/** Every fleet's notifications go through this, so each phase can set what it counts. */
let onNotification: NotificationHandler = () => {};
const dispatch: NotificationHandler = (device, frame, at) => onNotification(device, frame, at);

function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

/** Resolves when `expected` notifications have arrived (counted from now), rejects after timeoutMs. */
function countNotifications(expected: number, timeoutMs: number, each?: NotificationHandler): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => reject(new Error(`only ${seen} of ${expected} notifications within ${timeoutMs} ms`)), timeoutMs);
    onNotification = (device, frame, at) => {
      each?.(device, frame, at);
      if (++seen === expected) {
        clearTimeout(timer);
        onNotification = () => {};
        resolve();
      }
    };
  });
}

interface LoadReading {
  seconds: number;
  serverCpu: number;
  /** Part of serverCpu spent in the kernel. */
  serverSystemCpu: number;
  generatorCpu: number;
  /** CPU the rest of the machine used meanwhile: other work on a shared VM skews every figure. */
  otherCpu: number;
}

/** Wall time, server CPU and this process's CPU around `work`. */
async function measure(server: HeraldProcess, work: () => Promise<void>): Promise<LoadReading> {
  const server0 = server.cpuTimes();
  const machine0 = readMachineBusySeconds();
  const generator0 = process.cpuUsage();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const generator = process.cpuUsage(generator0);
  const server1 = server.cpuTimes();
  const system = server1.system - server0.system;
  const serverCpu = server1.user - server0.user + system;
  const generatorCpu = (generator.user + generator.system) / 1e6;
  const otherCpu = Math.max(0, readMachineBusySeconds() - machine0 - serverCpu - generatorCpu);
  return { seconds, serverCpu, serverSystemCpu: system, generatorCpu, otherCpu };
}

interface E2eRun {
  messagesPerSecond: number;
  serverCpuMicrosPerMessage: number;
  serverCpuShare: number;
  /** Share of the server's CPU spent in the kernel. */
  serverSystemShare: number;
  generatorCpuShare: number;
  otherCpuShare: number;
}

/** Closed loop: `count` POSTs with `inFlight` outstanding, done when every notification arrived (and was acked). */
async function e2eRun(server: HeraldProcess, sender: PushSender, devices: BenchDevice[], bodies: Array<Buffer | null>, count: number): Promise<E2eRun> {
  const reading = await measure(server, async () => {
    const delivered = countNotifications(count, 120_000);
    await sender.closedLoop(count, params.inFlight, (i) => ({ path: devices[i % devices.length]!.endpointPath, body: bodies[i % bodies.length]! }));
    await delivered;
  });
  return {
    messagesPerSecond: count / reading.seconds,
    serverCpuMicrosPerMessage: (reading.serverCpu / count) * 1e6,
    serverCpuShare: reading.serverCpu / reading.seconds,
    serverSystemShare: reading.serverSystemCpu / reading.serverCpu,
    generatorCpuShare: reading.generatorCpu / reading.seconds,
    otherCpuShare: reading.otherCpu / reading.seconds,
  };
}

/** Paced at `rate`; latency from just before each POST is written to the notification's arrival. */
async function latencyRun(sender: PushSender, devices: BenchDevice[], bodies: Array<Buffer | null>, rate: number, count: number) {
  // Messages for one channel arrive in the order they were accepted, and at these rates a device
  // never has two POSTs in flight at once: a per-device FIFO of send times matches them up.
  const sentAt = new Map<BenchDevice, number[]>(devices.map((device) => [device, []]));
  const latencies: number[] = [];
  const delivered = countNotifications(count, 120_000, (device, _frame, at) => {
    const started = sentAt.get(device)?.shift();
    if (started !== undefined) latencies.push(at - started);
  });
  const target = (i: number) => ({ path: devices[i % devices.length]!.endpointPath, body: bodies[i % bodies.length]! });
  const { maxOutstanding } = await sender.paced(count, rate, target, (i) => sentAt.get(devices[i % devices.length]!)!.push(performance.now()));
  await delivered;
  // The first tenth warms the pace up; it is not counted.
  const steady = latencies.slice(Math.floor(latencies.length / 10));
  return { p50: percentile(steady, 50), p99: percentile(steady, 99), max: percentile(steady, 100), maxOutstanding };
}

async function e2eFigures(figures: Figure[], results: Record<string, unknown>): Promise<void> {
  const server = await startHerald({ settings });
  const sender = new PushSender(server.origin, params.ttlSeconds, params.inFlight);
  try {
    log(`e2e: ${params.devices} devices, ${params.payloadBytes ? `${params.payloadBytes}-byte payloads (real aes128gcm)` : 'empty bodies'}`);
    const bodies = makeBodies(params.devices, params.payloadBytes);
    const devices = await connectFleet(params.devices, { url: server.wsUrl, register: true, onNotification: dispatch, localAddresses: params.localAddresses });
    await e2eRun(server, sender, devices, bodies, params.warmupMessages);
    const runs: E2eRun[] = [];
    for (let run = 0; run < params.runs; run++) {
      const result = await e2eRun(server, sender, devices, bodies, params.messages);
      log(
        `e2e run ${run + 1}: ${Math.round(result.messagesPerSecond)} msg/s, server ${result.serverCpuMicrosPerMessage.toFixed(0)} µs CPU/msg ` +
          `(server ${(result.serverCpuShare * 100).toFixed(0)}% of a core, generator ${(result.generatorCpuShare * 100).toFixed(0)}%, other processes ${(result.otherCpuShare * 100).toFixed(0)}%)`,
      );
      runs.push(result);
    }
    const peak = median(runs.map((r) => r.messagesPerSecond));
    const rate = Math.max(100, Math.round(peak * params.latencyFractionOfPeak));
    const latencyCount = rate * params.latencySeconds;
    log(`latency: ${latencyCount} messages paced at ${rate}/s`);
    const latency = await latencyRun(sender, devices, bodies, rate, latencyCount);
    await closeFleet(devices);
    if (sender.failures > 0) throw new Error(`${sender.failures} POSTs failed; last: ${sender.lastFailure}`);

    const pick = (f: (r: E2eRun) => number) => runs.map(f);
    figures.push(
      { figure: `e2e messages/s, ${params.devices} devices, ${params.inFlight} in flight`, value: peak, unit: 'msg/s', target: '≥ 10,000', runs: pick((r) => r.messagesPerSecond) },
      { figure: 'server CPU per message', value: median(pick((r) => r.serverCpuMicrosPerMessage)), unit: 'µs', target: '', runs: pick((r) => r.serverCpuMicrosPerMessage) },
      { figure: 'server CPU during e2e', value: median(pick((r) => r.serverCpuShare * 100)), unit: '% of a core', target: '', runs: pick((r) => r.serverCpuShare * 100) },
      { figure: '  of which in the kernel (syscalls)', value: median(pick((r) => r.serverSystemShare * 100)), unit: '% of server CPU', target: '', runs: pick((r) => r.serverSystemShare * 100) },
      { figure: 'load generator CPU during e2e', value: median(pick((r) => r.generatorCpuShare * 100)), unit: '% of a core', target: '< 100 (not saturated)', runs: pick((r) => r.generatorCpuShare * 100) },
      { figure: 'other processes (kernel threads, other work)', value: median(pick((r) => r.otherCpuShare * 100)), unit: '% of a core', target: '≈ 0 (quiet machine)', runs: pick((r) => r.otherCpuShare * 100) },
      { figure: `latency p50 at ${rate} msg/s (50% of peak)`, value: latency.p50, unit: 'ms', target: '' },
      { figure: `latency p99 at ${rate} msg/s (50% of peak)`, value: latency.p99, unit: 'ms', target: '' },
    );
    results.e2e = { runs, peakMessagesPerSecond: peak };
    results.latency = { ratePerSecond: rate, messages: latencyCount, ...latency };
  } finally {
    sender.close();
    await server.stop();
  }
}

async function rssFigures(figures: Figure[], results: Record<string, unknown>): Promise<void> {
  // The inspector lets the bench run a full GC in the server before each reading.
  const server = await startHerald({ inspect: true, settings });
  const sender = new PushSender(server.origin, params.ttlSeconds, params.inFlight);
  try {
    // Warm-up: the code paths a connection uses have run (and been compiled) before the baseline.
    const warm = await connectFleet(200, { url: server.wsUrl, register: true, onNotification: dispatch });
    const delivered = countNotifications(2000, 60_000);
    await sender.closedLoop(2000, params.inFlight, (i) => ({ path: warm[i % warm.length]!.endpointPath, body: null }));
    await delivered;
    await closeFleet(warm);
    sender.close();
    await sleep(2000);
    await server.collectGarbage();
    const before = server.rssBytes();
    const heapBefore = await server.heapUsedBytes();

    const count = params.idleConnections;
    log(`rss: opening ${count} connections (hello + register each)`);
    const opened = performance.now();
    const devices = await connectFleet(count, { url: server.wsUrl, register: true, onNotification: dispatch, localAddresses: params.localAddresses, concurrency: 200 });
    const openSeconds = (performance.now() - opened) / 1000;
    await sleep(params.idleSeconds * 1000);
    await server.collectGarbage();
    const after = server.rssBytes();
    const heapAfter = await server.heapUsedBytes();
    await closeFleet(devices);

    const perConnection = (after - before) / count;
    const heapPerConnection = (heapAfter - heapBefore) / count;
    log(`rss: ${(before / 2 ** 20).toFixed(1)} MiB → ${(after / 2 ** 20).toFixed(1)} MiB; heap used ${(heapBefore / 2 ** 20).toFixed(1)} → ${(heapAfter / 2 ** 20).toFixed(1)} MiB`);
    figures.push(
      { figure: `RSS per idle connection (${count.toLocaleString('en-US')} connections)`, value: perConnection / 1024, unit: 'KiB', target: '≤ 10' },
      { figure: '  of which JS heap (live, after a full GC)', value: heapPerConnection / 1024, unit: 'KiB', target: '' },
      { figure: `connect + hello + register, ${count.toLocaleString('en-US')} devices`, value: count / openSeconds, unit: 'devices/s', target: '' },
    );
    results.rss = { connections: count, rssBeforeBytes: before, rssAfterBytes: after, heapUsedBeforeBytes: heapBefore, heapUsedAfterBytes: heapAfter, perConnectionBytes: perConnection, openSeconds };
  } finally {
    sender.close();
    await server.stop();
  }
}

interface DrainRun {
  storePerSecond: number;
  storeCpuMicrosPerMessage: number;
  drainSeconds: number;
  drainPerSecond: number;
  drainCpuMicrosPerMessage: number;
  generatorCpuShare: number;
  otherCpuShare: number;
}

/** 1,000 devices register and go away; 20 messages each are stored; all come back at once. */
async function drainRun(server: HeraldProcess, bodies: Array<Buffer | null>, count = params.drainDevices): Promise<DrainRun> {
  const total = count * params.drainPerDevice;
  const fleet = await connectFleet(count, { url: server.wsUrl, register: true, onNotification: dispatch, localAddresses: params.localAddresses });
  const uaids = fleet.map((device) => device.uaid);
  const paths = fleet.map((device) => device.endpointPath);
  await closeFleet(fleet);
  await sleep(500);

  // TTL long enough that nothing expires between storing and draining.
  const sender = new PushSender(server.origin, 3600, params.inFlight);
  const stored = await measure(server, () => sender.closedLoop(total, params.inFlight, (i) => ({ path: paths[i % count]!, body: bodies[i % bodies.length]! })));
  sender.close();
  if (sender.failures > 0) throw new Error(`${sender.failures} POSTs failed; last: ${sender.lastFailure}`);

  let back: BenchDevice[] = [];
  const drained = await measure(server, async () => {
    const delivered = countNotifications(total, 120_000);
    back = await connectFleet(count, { url: server.wsUrl, register: false, uaids, onNotification: dispatch, localAddresses: params.localAddresses, concurrency: 200 });
    await delivered;
  });
  const short = back.filter((device) => device.received !== params.drainPerDevice).length;
  if (short > 0) throw new Error(`${short} devices did not get exactly ${params.drainPerDevice} messages`);
  await closeFleet(back);
  return {
    storePerSecond: total / stored.seconds,
    storeCpuMicrosPerMessage: (stored.serverCpu / total) * 1e6,
    drainSeconds: drained.seconds,
    drainPerSecond: total / drained.seconds,
    drainCpuMicrosPerMessage: (drained.serverCpu / total) * 1e6,
    generatorCpuShare: drained.generatorCpu / drained.seconds,
    otherCpuShare: (stored.otherCpu + drained.otherCpu) / (stored.seconds + drained.seconds),
  };
}

async function drainFigures(figures: Figure[], results: Record<string, unknown>): Promise<void> {
  const server = await startHerald({ settings });
  try {
    const bodies = makeBodies(params.drainDevices, params.payloadBytes);
    // Warm-up: a fifth of the load, so the first measured run does not pay for compilation.
    await drainRun(server, bodies, Math.round(params.drainDevices / 5));
    const runs: DrainRun[] = [];
    for (let run = 0; run < params.runs; run++) {
      const result = await drainRun(server, bodies);
      log(
        `drain run ${run + 1}: stored at ${Math.round(result.storePerSecond)}/s (${result.storeCpuMicrosPerMessage.toFixed(0)} µs CPU/msg), ` +
          `drained in ${result.drainSeconds.toFixed(2)} s (${Math.round(result.drainPerSecond)}/s, ${result.drainCpuMicrosPerMessage.toFixed(0)} µs CPU/msg, generator ${(result.generatorCpuShare * 100).toFixed(0)}%, other processes ${(result.otherCpuShare * 100).toFixed(0)}%)`,
      );
      runs.push(result);
    }
    const pick = (f: (r: DrainRun) => number) => runs.map(f);
    const total = params.drainDevices * params.drainPerDevice;
    figures.push(
      { figure: `store rate, devices offline (${total.toLocaleString('en-US')} POSTs)`, value: median(pick((r) => r.storePerSecond)), unit: 'msg/s', target: '', runs: pick((r) => r.storePerSecond) },
      { figure: 'server CPU per stored message', value: median(pick((r) => r.storeCpuMicrosPerMessage)), unit: 'µs', target: '', runs: pick((r) => r.storeCpuMicrosPerMessage) },
      { figure: `drain ${params.drainDevices.toLocaleString('en-US')} × ${params.drainPerDevice} on reconnect`, value: median(pick((r) => r.drainSeconds)), unit: 's', target: '', runs: pick((r) => r.drainSeconds) },
      { figure: '  drain rate', value: median(pick((r) => r.drainPerSecond)), unit: 'msg/s', target: '', runs: pick((r) => r.drainPerSecond) },
      { figure: '  server CPU per drained message', value: median(pick((r) => r.drainCpuMicrosPerMessage)), unit: 'µs', target: '', runs: pick((r) => r.drainCpuMicrosPerMessage) },
    );
    results.drain = { runs };
  } finally {
    await server.stop();
  }
}

/** One load under --cpu-prof on the server; prints and saves the top costs in the load window. */
async function profile(which: string): Promise<void> {
  if (which !== 'e2e' && which !== 'drain') throw new Error('--profile takes e2e or drain');
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'herald-cpuprof-'));
  const server = await startHerald({ nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profileDir], settings });
  let window: { startNs: bigint; endNs: bigint };
  try {
    const bodies = makeBodies(params.devices, params.payloadBytes);
    if (which === 'e2e') {
      const sender = new PushSender(server.origin, params.ttlSeconds, params.inFlight);
      const devices = await connectFleet(params.devices, { url: server.wsUrl, register: true, onNotification: dispatch, localAddresses: params.localAddresses });
      await e2eRun(server, sender, devices, bodies, params.warmupMessages);
      const startNs = process.hrtime.bigint();
      const result = await e2eRun(server, sender, devices, bodies, params.messages);
      window = { startNs, endNs: process.hrtime.bigint() };
      log(`profiled e2e: ${Math.round(result.messagesPerSecond)} msg/s under the profiler, ${result.serverCpuMicrosPerMessage.toFixed(0)} µs CPU/msg`);
      sender.close();
      await closeFleet(devices);
    } else {
      const startNs = process.hrtime.bigint();
      const result = await drainRun(server, bodies);
      window = { startNs, endNs: process.hrtime.bigint() };
      log(`profiled drain: stored at ${Math.round(result.storePerSecond)}/s, drained in ${result.drainSeconds.toFixed(2)} s`);
    }
  } finally {
    await server.stop();
  }
  // Node writes one profile per thread (tsx's loader has one too): the main thread's is the largest.
  const file = readdirSync(profileDir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(path.join(profileDir, b)).size - statSync(path.join(profileDir, a)).size)[0];
  if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
  const text = formatSummary(summarizeProfile(path.join(profileDir, file), 60, window));
  process.stdout.write(`${text}\n\nraw profile: ${path.join(profileDir, file)}\n`);
  mkdirSync(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, `bench/results/profile-${which}.txt`), text + '\n');
}

function machine() {
  // BENCH_COMMIT names the tree when it is an export (git archive) rather than a checkout.
  let commit = process.env.BENCH_COMMIT ?? 'unknown';
  if (!process.env.BENCH_COMMIT) {
    try {
      commit = execSync('git rev-parse --short HEAD', { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
      if (execSync('git status --porcelain -- src', { cwd: REPO_ROOT, encoding: 'utf8' }).trim()) commit += '+dirty';
    } catch {
      // not a git checkout
    }
  }
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGiB: round(os.totalmem() / 2 ** 30, 1), node: process.version, commit };
}

async function main(): Promise<void> {
  if (flags.profile) return profile(flags.profile);
  const figures: Figure[] = [];
  const results: Record<string, unknown> = {};
  const started = performance.now();
  const startLoad = round(os.loadavg()[0] ?? 0, 2);
  if (startLoad > 0.5) log(`warning: load average ${startLoad} before starting: other work on this machine will skew the figures`);
  if (only.has('e2e')) await e2eFigures(figures, results);
  if (only.has('drain')) await drainFigures(figures, results);
  if (only.has('rss')) await rssFigures(figures, results);

  const rounded = figures.map((f) => ({ ...f, value: round(f.value, 3), ...(f.runs ? { runs: f.runs.map((v) => round(v, 3)) } : {}) }));
  const report = { date: new Date().toISOString(), machine: { ...machine(), loadAverage1mBefore: startLoad }, params, figures: rounded, details: results, seconds: round((performance.now() - started) / 1000, 1) };
  mkdirSync(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'bench/results/latest.json'), JSON.stringify(report, null, 2) + '\n');
  const m = report.machine;
  process.stdout.write(`\nHerald ${m.commit}, node ${m.node}, ${m.cpus} × ${m.cpuModel} (server and load generator share them), load average before: ${startLoad}\n\n`);
  process.stdout.write(formatTable(figures) + '\n\n');
  process.stdout.write(`written to bench/results/latest.json (${report.seconds} s)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
