/**
 * The measurements, written once for every target (bench/peers/types.ts):
 *   e2e      messages/s with 1,000 subscribers, publish → receive → ack, N in flight; then p50/p99
 *            latency paced at a fraction of that peak
 *   drain    1,000 subscribers × 20 messages stored while they are away, all reconnect at once
 *   idle     memory per idle connection (10,000)
 *   scale    memory and CPU per message as connected subscribers grow (1k → 10k → 50k), the idle
 *            ones held by child processes (bench/peers/holder.ts)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../lib/server.js';
import { closedLoop, measure, pacedLoop, rssOf, type Reading } from '../lib/load.js';
import { median, percentile, sleep } from '../lib/stats.js';
import type { HoldAnswer, HoldRequest } from './holder.js';
import { clientFor, startTarget } from './targets.js';
import type { MessageHandler, RunningTarget, StartOptions, Subscriber, TargetName } from './types.js';

export interface Params {
  devices: number;
  warmupMessages: number;
  /** Messages per measured e2e run, at most: a slow target gets fewer (see maxRunSeconds). */
  messages: number;
  /** A measured run is cut to about this long at the warm-up's rate (but never below minMessages). */
  maxRunSeconds: number;
  minMessages: number;
  inFlight: number;
  runs: number;
  ttlSeconds: number;
  payloadBytes: number;
  latencyFractionOfPeak: number;
  latencySeconds: number;
  idleConnections: number;
  idleSeconds: number;
  drainDevices: number;
  drainPerDevice: number;
  /** Total connected subscribers at each step of the scale phase. */
  scaleSteps: number[];
  scaleMessages: number;
  /** Herald-pg nodes and nginx workers in the scale phase (each process holds < 20,000 connections). */
  scaleProcesses: number;
  /** Herald-pg nodes in every other phase. */
  clusterNodes: number;
  /** Herald-pg: each message is POSTed to a node other than its subscriber's (--cross-node). */
  crossNode: boolean;
  /** Nginx workers in every other phase. */
  nchanWorkers: number;
  /** Source addresses of this process's subscribers. */
  localAddresses: string[];
  /** Source addresses of the holder processes' subscribers (scale phase). */
  holderAddresses: string[];
  /** Idle subscribers per holder process. */
  perHolder: number;
}

export type Log = (text: string) => void;

/** Routes every subscriber's messages to whatever the current phase counts. */
class MessageCounter {
  private current: MessageHandler = () => {};
  readonly handler: MessageHandler = (subscriber, at) => this.current(subscriber, at);

  /** Resolves when `expected` messages have arrived (counted from now); rejects after timeoutMs. */
  expect(expected: number, timeoutMs: number, each?: MessageHandler): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let seen = 0;
      const timer = setTimeout(() => {
        this.current = () => {};
        reject(new Error(`only ${seen} of ${expected} messages arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      this.current = (subscriber, at) => {
        each?.(subscriber, at);
        if (++seen === expected) {
          clearTimeout(timer);
          this.current = () => {};
          resolve();
        }
      };
    });
  }
}

function startOptionsFor(name: TargetName, params: Params, phase: 'e2e' | 'drain' | 'idle' | 'scale', extra: StartOptions = {}): StartOptions {
  const processes = phase === 'scale' ? params.scaleProcesses : name === 'nchan' ? params.nchanWorkers : params.clusterNodes;
  return { processes, ...(phase === 'idle' || phase === 'scale' ? { inspect: true } : {}), ...(params.crossNode ? { crossNode: true } : {}), ...extra };
}

async function withTarget<T>(name: TargetName, options: StartOptions, work: (target: RunningTarget) => Promise<T>): Promise<T> {
  const target = await startTarget(name, options);
  try {
    return await work(target);
  } finally {
    await target.stop();
  }
}

function perMessage(reading: Reading, count: number) {
  const server = reading.serverCpu + reading.serviceCpu;
  return {
    messagesPerSecond: count / reading.seconds,
    /** The target's processes and the services it needs (PostgreSQL, Redis), per message. */
    cpuMicrosPerMessage: (server / count) * 1e6,
    /** The target's own processes only. */
    ownCpuMicrosPerMessage: (reading.serverCpu / count) * 1e6,
    serverCpuShare: server / reading.seconds,
    serverSystemShare: reading.serverCpu > 0 ? reading.serverSystemCpu / reading.serverCpu : 0,
    generatorCpuShare: reading.generatorCpu / reading.seconds,
    otherCpuShare: reading.otherCpu / reading.seconds,
  };
}

/** One timed run; Herald's also say its worst event-loop delay p99 (ms) during the run. */
export type E2eRun = ReturnType<typeof perMessage> & { eventLoopP99Ms?: number };

/**
 * Warm-up messages in chunks of 500 until warmupMessages were sent or maxRunSeconds passed (a slow
 * target is warm long before 5,000); returns the rate of the last chunk.
 */
async function warmUp(params: Params, run: (count: number) => Promise<{ messagesPerSecond: number }>): Promise<number> {
  const started = performance.now();
  let sent = 0;
  let rate = 0;
  while (sent < params.warmupMessages && (performance.now() - started) / 1000 < params.maxRunSeconds) {
    const chunk = Math.min(500, params.warmupMessages - sent);
    rate = (await run(chunk)).messagesPerSecond;
    sent += chunk;
  }
  return rate;
}

/** `wanted` messages, or fewer when that would take much longer than maxRunSeconds at `rate`. */
function runLength(params: Params, wanted: number, rate: number): number {
  return Math.max(Math.min(params.minMessages, wanted), Math.min(wanted, Math.round((rate * params.maxRunSeconds) / 100) * 100));
}

export interface E2eResult {
  /** How the target ran ("2 nodes, PostgreSQL … + Redis bus", "nginx …, 1 worker"). */
  description: string;
  runs: E2eRun[];
  messagesPerSecond: number;
  cpuMicrosPerMessage: number;
  ownCpuMicrosPerMessage: number;
  serverCpuShare: number;
  generatorCpuShare: number;
  otherCpuShare: number;
  /** Herald: the median over the runs of the worst node's event-loop delay p99 (ms). */
  eventLoopP99Ms?: number;
  latency: LatencyResult;
}

export interface LatencyResult {
  ratePerSecond: number;
  messages: number;
  p50: number;
  p99: number;
  max: number;
  /** Most publishes awaiting their answer at once. */
  maxOutstanding: number;
  /** messages / (first publish → last message received). */
  achievedPerSecond: number;
  /** Whether the pair kept within 5 % of the pace; when not, p50/p99 include a queue that grew. */
  keptPace: boolean;
  attempts: number;
  /** Herald: the worst node's event-loop delay p99 (ms) during this attempt. */
  eventLoopP99Ms?: number;
}

const LATENCY_ATTEMPTS = 3;

export async function e2ePhase(name: TargetName, params: Params, log: Log, extra: StartOptions = {}, onRunWindow?: (startNs: bigint, endNs: bigint) => void): Promise<E2eResult> {
  return withTarget(name, startOptionsFor(name, params, 'e2e', extra), async (target) => {
    const client = clientFor(target.endpoint);
    const counter = new MessageCounter();
    const publisher = client.publisher(params.inFlight, params.ttlSeconds);
    const subscribers = await client.connect(params.devices, { group: `e2e-${process.pid}-${Date.now()}`, onMessage: counter.handler, localAddresses: params.localAddresses });
    const bodies = client.bodies(params.devices, params.payloadBytes);
    const send = (i: number) => publisher.publish(i, subscribers[i % subscribers.length]!.publishKey, bodies[i % bodies.length]!);
    try {
      const run = async (count: number) => {
        await target.eventLoopDelayP99Ms?.();
        const reading = await measure(target.pids, target.servicePids, async () => {
          const delivered = counter.expect(count, 120_000);
          await closedLoop(count, params.inFlight, send);
          await delivered;
        });
        const eventLoopP99Ms = await target.eventLoopDelayP99Ms?.();
        return { ...perMessage(reading, count), ...(eventLoopP99Ms === undefined ? {} : { eventLoopP99Ms }) };
      };
      const warmRate = await warmUp(params, run);
      const count = runLength(params, params.messages, warmRate);
      if (count < params.messages) log(`${name} e2e: ${count} messages per run (${params.maxRunSeconds} s at the warm-up's ${Math.round(warmRate)} msg/s)`);
      const runs: E2eRun[] = [];
      for (let i = 0; i < params.runs; i++) {
        const startNs = process.hrtime.bigint();
        const result = await run(count);
        onRunWindow?.(startNs, process.hrtime.bigint());
        log(
          `${name} e2e run ${i + 1}: ${Math.round(result.messagesPerSecond)} msg/s, ${result.cpuMicrosPerMessage.toFixed(0)} µs server CPU/msg ` +
            `(server ${(result.serverCpuShare * 100).toFixed(0)}% of a core, generator ${(result.generatorCpuShare * 100).toFixed(0)}%, other ${(result.otherCpuShare * 100).toFixed(0)}%)` +
            (result.eventLoopP99Ms === undefined ? '' : `, event loop p99 ${result.eventLoopP99Ms.toFixed(1)} ms`),
        );
        runs.push(result);
      }
      const peak = median(runs.map((r) => r.messagesPerSecond));
      const rate = Math.max(100, Math.round(peak * params.latencyFractionOfPeak));
      const latencyCount = rate * params.latencySeconds;
      // At these rates a subscriber rarely has two messages in flight, and each one's messages arrive
      // in the order they were accepted: a per-subscriber FIFO of send times matches them up.
      const sentAt = new Map<Subscriber, number[]>(subscribers.map((s) => [s, []]));
      const attempt = async (): Promise<LatencyResult> => {
        const latencies: number[] = [];
        const delivered = counter.expect(latencyCount, 120_000, (subscriber, at) => {
          const started = sentAt.get(subscriber)?.shift();
          if (started !== undefined) latencies.push(at - started);
        });
        await target.eventLoopDelayP99Ms?.();
        const started = performance.now();
        const { maxOutstanding } = await pacedLoop(latencyCount, rate, send, (i) => sentAt.get(subscribers[i % subscribers.length]!)!.push(performance.now()));
        await delivered;
        const achievedPerSecond = latencyCount / ((performance.now() - started) / 1000);
        const eventLoopP99Ms = await target.eventLoopDelayP99Ms?.();
        // The first tenth warms the pace up; it is not counted.
        const steady = latencies.slice(Math.floor(latencies.length / 10));
        return {
          ratePerSecond: rate,
          messages: latencyCount,
          p50: percentile(steady, 50),
          p99: percentile(steady, 99),
          max: percentile(steady, 100),
          maxOutstanding,
          achievedPerSecond,
          keptPace: achievedPerSecond >= rate * 0.95,
          attempts: 0,
          ...(eventLoopP99Ms === undefined ? {} : { eventLoopP99Ms }),
        };
      };
      // An open loop that falls behind measures its own queue, not the server: on a shared machine a
      // neighbour's burst can do that. Up to three attempts; the figure says whether one kept pace.
      let latency: LatencyResult | undefined;
      for (let attempts = 1; attempts <= LATENCY_ATTEMPTS; attempts++) {
        log(`${name} latency: ${latencyCount} messages paced at ${rate}/s${attempts > 1 ? ` (attempt ${attempts})` : ''}`);
        latency = { ...(await attempt()), attempts };
        if (latency.keptPace) break;
        log(`${name} latency: fell behind the pace (${Math.round(latency.achievedPerSecond)}/s achieved, up to ${latency.maxOutstanding} outstanding; p99 ${latency.p99.toFixed(1)} ms)`);
        await sleep(2000);
      }
      if (publisher.failures > 0) throw new Error(`${publisher.failures} publishes failed; last: ${publisher.lastFailure}`);
      const pick = (f: (r: E2eRun) => number) => median(runs.map(f));
      return {
        description: target.description,
        runs,
        messagesPerSecond: peak,
        cpuMicrosPerMessage: pick((r) => r.cpuMicrosPerMessage),
        ownCpuMicrosPerMessage: pick((r) => r.ownCpuMicrosPerMessage),
        serverCpuShare: pick((r) => r.serverCpuShare),
        generatorCpuShare: pick((r) => r.generatorCpuShare),
        otherCpuShare: pick((r) => r.otherCpuShare),
        ...(runs.every((r) => r.eventLoopP99Ms !== undefined) ? { eventLoopP99Ms: pick((r) => r.eventLoopP99Ms as number) } : {}),
        latency: latency!,
      };
    } finally {
      await Promise.all(subscribers.map((s) => s.close()));
      await publisher.close();
    }
  });
}

export interface DrainRun {
  storePerSecond: number;
  storeCpuMicrosPerMessage: number;
  drainSeconds: number;
  drainPerSecond: number;
  drainCpuMicrosPerMessage: number;
  generatorCpuShare: number;
  otherCpuShare: number;
}

export interface DrainResult {
  description: string;
  runs: DrainRun[];
  drainSeconds: number;
  drainCpuMicrosPerMessage: number;
  storePerSecond: number;
}

export async function drainPhase(name: TargetName, params: Params, log: Log, extra: StartOptions = {}, onRunWindow?: (startNs: bigint, endNs: bigint) => void): Promise<DrainResult> {
  return withTarget(name, startOptionsFor(name, params, 'drain', extra), async (target) => {
    const client = clientFor(target.endpoint);
    const counter = new MessageCounter();
    const bodies = client.bodies(params.drainDevices, params.payloadBytes);
    let round = 0;
    /** Subscribers come and go; 20 messages each are stored meanwhile; all come back at once. */
    const drainRun = async (count: number): Promise<DrainRun> => {
      const total = count * params.drainPerDevice;
      const group = `drain-${process.pid}-${Date.now()}-${round++}`;
      const fleet = await client.connect(count, { group, onMessage: counter.handler, localAddresses: params.localAddresses });
      const resumeKeys = fleet.map((s) => s.resumeKey);
      const publishKeys = fleet.map((s) => s.publishKey);
      await Promise.all(fleet.map((s) => s.close()));
      await sleep(500);
      // A TTL long enough that nothing expires between storing and draining.
      const publisher = client.publisher(params.inFlight, 3600);
      const stored = await measure(target.pids, target.servicePids, () => closedLoop(total, params.inFlight, (i) => publisher.publish(i, publishKeys[i % count]!, bodies[i % bodies.length]!)));
      await publisher.close();
      if (publisher.failures > 0) throw new Error(`${publisher.failures} publishes failed; last: ${publisher.lastFailure}`);
      let back: Subscriber[] = [];
      const drained = await measure(target.pids, target.servicePids, async () => {
        const delivered = counter.expect(total, 120_000);
        back = await client.connect(count, { group, resumeKeys, onMessage: counter.handler, localAddresses: params.localAddresses, concurrency: 200 });
        await delivered;
      });
      const short = back.filter((s) => s.received !== params.drainPerDevice).length;
      await Promise.all(back.map((s) => s.close()));
      if (short > 0) throw new Error(`${short} subscribers did not get exactly ${params.drainPerDevice} messages`);
      return {
        storePerSecond: total / stored.seconds,
        storeCpuMicrosPerMessage: ((stored.serverCpu + stored.serviceCpu) / total) * 1e6,
        drainSeconds: drained.seconds,
        drainPerSecond: total / drained.seconds,
        drainCpuMicrosPerMessage: ((drained.serverCpu + drained.serviceCpu) / total) * 1e6,
        generatorCpuShare: drained.generatorCpu / drained.seconds,
        otherCpuShare: (stored.otherCpu + drained.otherCpu) / (stored.seconds + drained.seconds),
      };
    };
    // Warm-up: a fifth of the load, so the first measured run does not pay for compilation.
    await drainRun(Math.round(params.drainDevices / 5));
    const runs: DrainRun[] = [];
    for (let i = 0; i < params.runs; i++) {
      const startNs = process.hrtime.bigint();
      const result = await drainRun(params.drainDevices);
      onRunWindow?.(startNs, process.hrtime.bigint());
      log(
        `${name} drain run ${i + 1}: stored at ${Math.round(result.storePerSecond)}/s (${result.storeCpuMicrosPerMessage.toFixed(0)} µs CPU/msg), ` +
          `drained in ${result.drainSeconds.toFixed(2)} s (${result.drainCpuMicrosPerMessage.toFixed(0)} µs CPU/msg, generator ${(result.generatorCpuShare * 100).toFixed(0)}%, other ${(result.otherCpuShare * 100).toFixed(0)}%)`,
      );
      runs.push(result);
    }
    return {
      description: target.description,
      runs,
      drainSeconds: median(runs.map((r) => r.drainSeconds)),
      drainCpuMicrosPerMessage: median(runs.map((r) => r.drainCpuMicrosPerMessage)),
      storePerSecond: median(runs.map((r) => r.storePerSecond)),
    };
  });
}

export interface IdleResult {
  description: string;
  connections: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  perConnectionBytes: number;
  connectPerSecond: number;
}

export async function idlePhase(name: TargetName, params: Params, log: Log): Promise<IdleResult> {
  return withTarget(name, startOptionsFor(name, params, 'idle'), async (target) => {
    const client = clientFor(target.endpoint);
    const counter = new MessageCounter();
    // Warm-up: the code paths a connection uses have run (and been compiled) before the baseline.
    const warm = await client.connect(200, { group: `warm-${process.pid}-${Date.now()}`, onMessage: counter.handler });
    const publisher = client.publisher(params.inFlight, params.ttlSeconds);
    const bodies = client.bodies(warm.length, params.payloadBytes);
    const delivered = counter.expect(2000, 60_000);
    await closedLoop(2000, params.inFlight, (i) => publisher.publish(i, warm[i % warm.length]!.publishKey, bodies[i % warm.length]!));
    await delivered;
    await Promise.all(warm.map((s) => s.close()));
    await publisher.close();
    await sleep(2000);
    await target.collectGarbage();
    const before = rssOf(target.pids());
    const count = params.idleConnections;
    log(`${name} idle: opening ${count} connections`);
    const opened = performance.now();
    const fleet = await client.connect(count, { group: `idle-${process.pid}-${Date.now()}`, onMessage: counter.handler, localAddresses: params.localAddresses, concurrency: 200 });
    const openSeconds = (performance.now() - opened) / 1000;
    await sleep(params.idleSeconds * 1000);
    await target.collectGarbage();
    const after = rssOf(target.pids());
    await Promise.all(fleet.map((s) => s.close()));
    log(`${name} idle: RSS ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB for ${count} connections`);
    return { description: target.description, connections: count, rssBeforeBytes: before, rssAfterBytes: after, perConnectionBytes: (after - before) / count, connectPerSecond: count / openSeconds };
  });
}

export interface ScaleStep {
  /** Subscribers asked for at this step. */
  devices: number;
  /** Subscribers actually connected (less when the target's capacity is below `devices`). */
  connected: number;
  rssBytes: number;
  /** (RSS − RSS at the first step) / (connected − connected at the first step). */
  perConnectionBytes: number;
  messagesPerSecond: number;
  cpuMicrosPerMessage: number;
}

export interface ScaleResult {
  description: string;
  capacity: { connections: number; why: string };
  steps: ScaleStep[];
}

/** A holder process with `count` idle subscribers; resolves once they are all connected. */
async function startHolder(request: HoldRequest): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/peers/holder.ts'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`holder of ${request.count} connections not ready within 180 s`)), 180_000);
      child.once('exit', (code) => reject(new Error(`holder exited with ${String(code)}`)));
      child.once('message', (answer: HoldAnswer) => {
        clearTimeout(timer);
        if ('error' in answer) reject(new Error(`holder: ${answer.error}`));
        else resolve();
      });
      child.send(request);
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return child;
}

async function stopHolder(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send('close');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

export async function scalePhase(name: TargetName, params: Params, log: Log): Promise<ScaleResult> {
  return withTarget(name, startOptionsFor(name, params, 'scale'), async (target) => {
    const client = clientFor(target.endpoint);
    const counter = new MessageCounter();
    const active = await client.connect(params.devices, { group: `scale-${process.pid}-${Date.now()}`, onMessage: counter.handler, localAddresses: params.localAddresses });
    const publisher = client.publisher(params.inFlight, params.ttlSeconds);
    const bodies = client.bodies(active.length, params.payloadBytes);
    const send = (i: number) => publisher.publish(i, active[i % active.length]!.publishKey, bodies[i % active.length]!);
    const holders: ChildProcess[] = [];
    const steps: ScaleStep[] = [];
    let connected = active.length;
    let holderIndex = 0;
    try {
      // Warm-up, so the first step does not pay for compilation.
      const warmRate = await warmUp(params, async (count) => {
        const delivered = counter.expect(count, 120_000);
        const reading = await measure(target.pids, target.servicePids, async () => {
          await closedLoop(count, params.inFlight, send);
          await delivered;
        });
        return perMessage(reading, count);
      });
      const scaleMessages = runLength(params, params.scaleMessages, warmRate);
      for (const devices of params.scaleSteps) {
        const wanted = Math.min(devices, target.capacity.connections);
        // Several holders at once: each one is a process with its own open-file limit.
        const starting: Array<Promise<ChildProcess>> = [];
        while (connected < wanted) {
          const count = Math.min(params.perHolder, wanted - connected);
          // Each holder gets its own two source addresses: one address reaches ~28k ports of one destination.
          const addresses = [0, 1].map((k) => params.holderAddresses[(holderIndex * 2 + k) % params.holderAddresses.length]!);
          starting.push(startHolder({ endpoint: target.endpoint, count, group: `hold-${process.pid}-${holderIndex++}`, localAddresses: addresses, concurrency: 100 }));
          connected += count;
        }
        if (starting.length > 0) log(`${name} scale: ${wanted} connected subscribers (${starting.length} more holder process${starting.length > 1 ? 'es' : ''})`);
        holders.push(...(await Promise.all(starting)));
        await sleep(params.idleSeconds * 1000);
        await target.collectGarbage();
        const rss = rssOf(target.pids());
        const delivered = counter.expect(scaleMessages, 120_000);
        const reading = await measure(target.pids, target.servicePids, async () => {
          await closedLoop(scaleMessages, params.inFlight, send);
          await delivered;
        });
        const first = steps[0];
        const step: ScaleStep = {
          devices,
          connected,
          rssBytes: rss,
          perConnectionBytes: first && connected > first.connected ? (rss - first.rssBytes) / (connected - first.connected) : Number.NaN,
          ...(({ messagesPerSecond, cpuMicrosPerMessage }) => ({ messagesPerSecond, cpuMicrosPerMessage }))(perMessage(reading, scaleMessages)),
        };
        log(
          `${name} scale ${connected}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB, ${Math.round(step.messagesPerSecond)} msg/s, ${step.cpuMicrosPerMessage.toFixed(0)} µs CPU/msg` +
            (wanted < devices ? ` (capacity ${target.capacity.connections}: ${target.capacity.why})` : ''),
        );
        steps.push(step);
      }
      if (publisher.failures > 0) throw new Error(`${publisher.failures} publishes failed; last: ${publisher.lastFailure}`);
      return { description: target.description, capacity: target.capacity, steps };
    } finally {
      await Promise.all(holders.map(stopHolder));
      await Promise.all(active.map((s) => s.close()));
      await publisher.close();
    }
  });
}
