/**
 * `npm run bench`: Herald measured side by side with the peers a user would pick instead, in one run,
 * on this machine, with one load generator design (1,000 subscribers, 200-byte messages, 64 in flight,
 * medians of 3 runs):
 *   herald-sqlite   one Herald process on SQLite (the default deployment)
 *   herald-pg       two Herald nodes on PostgreSQL + Redis (fresh schema and key prefix)
 *   mosquitto       Eclipse Mosquitto, MQTT QoS 1, persistent sessions
 *   nchan           nginx + Nchan, HTTP publish, WebSocket subscribers, message buffer
 * Figures (bench/peers/phases.ts): e2e msg/s and server CPU per message, p50/p99 latency at 50 % of
 * each target's own peak, drain 1,000 × 20, RSS per idle connection at 10k, RSS and CPU per message
 * at 1k → 10k → 50k connected subscribers. Prints a table with each Herald figure as a ratio to the
 * best peer's; writes bench/results/latest.json and bench/results/chart.png (+ .svg).
 *
 *   npm run bench                                   everything (about 10-15 minutes)
 *   npm run bench -- --quick                        smaller counts, 1 run each: a smoke test
 *   npm run bench -- --only=herald-sqlite           targets and/or phases, comma-separated:
 *   npm run bench -- --only=nchan,mosquitto,e2e       targets herald-sqlite herald-pg mosquitto nchan,
 *                                                     phases e2e drain idle (alias rss) scale
 *   npm run bench -- --scale-steps=1000,10000,50000 --runs=5 --in-flight=128 --payload-bytes=0
 *   npm run bench -- --only=herald-pg,e2e --cross-node   herald-pg's publisher POSTs each message to a
 *                                      node other than its subscriber's: every delivery is a hand-off
 *                                      between nodes over Redis (default: its own node, all local)
 *   npm run bench -- --profile=e2e [--only=herald-pg]   no figures: the e2e (or drain) load once with
 *                                      the server under --cpu-prof; prints and saves its top costs
 * Peers come from Debian's packages: bench/peers/install.sh installs what is missing.
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatSummary, summarizeProfile } from './lib/cpuprofile.js';
import { REPO_ROOT } from './lib/server.js';
import { round } from './lib/stats.js';
import { writeChart } from './peers/chart.js';
import { drainPhase, e2ePhase, idlePhase, scalePhase, type E2eResult, type Params } from './peers/phases.js';
import { buildRows, formatComparison, type TargetResults } from './peers/report.js';
import { TARGET_NAMES, type TargetName } from './peers/types.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'string' },
    runs: { type: 'string' },
    'in-flight': { type: 'string' },
    'payload-bytes': { type: 'string' },
    'scale-steps': { type: 'string' },
    'cross-node': { type: 'boolean', default: false },
    /** --profile only: `section.option=value` for the profiled Herald (e.g. guard.enabled=false). */
    set: { type: 'string', multiple: true },
  },
  strict: true,
});

const PHASES = ['e2e', 'drain', 'idle', 'scale'] as const;
const CROSS_NODE_NOTE = "--cross-node is ON: herald-pg POSTs each message to a node other than its subscriber's (every delivery crosses nodes; not comparable with runs without it)";
type Phase = (typeof PHASES)[number];

const quick = flags.quick === true;
const loopback = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `127.0.0.${from + i}`);
const params: Params = {
  devices: 1000,
  warmupMessages: quick ? 500 : 5000,
  messages: quick ? 5000 : 20_000,
  maxRunSeconds: quick ? 3 : 8,
  minMessages: 2000,
  inFlight: Number(flags['in-flight'] ?? 64),
  runs: Number(flags.runs ?? (quick ? 1 : 3)),
  ttlSeconds: 60,
  /** Plaintext bytes per message: Herald gets a real aes128gcm body of it, the peers the bytes as they are. */
  payloadBytes: Number(flags['payload-bytes'] ?? 200),
  latencyFractionOfPeak: 0.5,
  latencySeconds: quick ? 3 : 10,
  idleConnections: quick ? 2000 : 10_000,
  idleSeconds: quick ? 2 : 5,
  drainDevices: 1000,
  drainPerDevice: 20,
  scaleSteps: (flags['scale-steps'] ?? (quick ? '1000,5000' : '1000,10000,50000')).split(',').map(Number),
  scaleMessages: quick ? 2000 : 10_000,
  scaleProcesses: 3,
  clusterNodes: 2,
  crossNode: flags['cross-node'] === true,
  nchanWorkers: 1,
  localAddresses: loopback(1, 4),
  holderAddresses: loopback(5, 14),
  perHolder: 15_000,
};

const onlyTokens = (flags.only ?? '').split(',').map((t) => t.trim()).filter(Boolean).map((t) => (t === 'rss' ? 'idle' : t));
for (const token of onlyTokens) {
  if (!(TARGET_NAMES as readonly string[]).includes(token) && !(PHASES as readonly string[]).includes(token)) {
    throw new Error(`--only: unknown "${token}"; targets: ${TARGET_NAMES.join(' ')}; phases: ${PHASES.join(' ')}`);
  }
}
const onlyTargets = TARGET_NAMES.filter((t) => onlyTokens.includes(t));
const onlyPhases = PHASES.filter((p) => onlyTokens.includes(p));
const targets: TargetName[] = onlyTargets.length > 0 ? onlyTargets : [...TARGET_NAMES];
const phases: Phase[] = onlyPhases.length > 0 ? onlyPhases : [...PHASES];

function log(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

function uptime(): string {
  try {
    return execSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}`;
  }
}

function missingPeers(): string[] {
  const needs: Partial<Record<TargetName, string>> = { mosquitto: '/usr/sbin/mosquitto', nchan: '/usr/lib/nginx/modules/ngx_nchan_module.so' };
  return targets.filter((t) => needs[t] !== undefined && !existsSync(needs[t]!));
}

/** One load under --cpu-prof on a Herald target; prints and saves the top costs in the measured window. */
async function profile(which: string): Promise<void> {
  if (which !== 'e2e' && which !== 'drain') throw new Error('--profile takes e2e or drain');
  const target = onlyTargets.find((t) => t === 'herald-sqlite' || t === 'herald-pg') ?? 'herald-sqlite';
  if (params.crossNode) log(CROSS_NODE_NOTE);
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'herald-cpuprof-'));
  const once = { ...params, runs: 1, latencySeconds: 1 };
  let window: { startNs: bigint; endNs: bigint } | undefined;
  const onWindow = (startNs: bigint, endNs: bigint) => (window = { startNs, endNs });
  const settings = Object.fromEntries((flags.set ?? []).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
  const extra = { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profileDir], settings };
  if (which === 'e2e') {
    const result = await e2ePhase(target, once, log, extra, onWindow);
    log(`profiled ${target} e2e: ${Math.round(result.messagesPerSecond)} msg/s under the profiler, ${result.cpuMicrosPerMessage.toFixed(0)} µs CPU/msg`);
  } else {
    const result = await drainPhase(target, once, log, extra, onWindow);
    log(`profiled ${target} drain: drained in ${result.drainSeconds.toFixed(2)} s`);
  }
  // Node writes one profile per thread (tsx's loader has one too): a node's main thread's is the largest.
  const file = readdirSync(profileDir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(path.join(profileDir, b)).size - statSync(path.join(profileDir, a)).size)[0];
  if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
  const text = formatSummary(summarizeProfile(path.join(profileDir, file), 60, window));
  process.stdout.write(`${text}\n\nraw profiles: ${profileDir}\n`);
  mkdirSync(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
  const suffix = target === 'herald-sqlite' ? '' : `-${target}`;
  writeFileSync(path.join(REPO_ROOT, `bench/results/profile-${which}${suffix}.txt`), text + '\n');
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
  const version = (command: string) => {
    try {
      return execSync(command, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0] ?? '';
    } catch (error) {
      // nginx -v and mosquitto -h print to stderr (and mosquitto -h exits 3).
      return String((error as { stderr?: string }).stderr ?? '').trim().split('\n')[0] ?? '';
    }
  };
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    commit,
    mosquitto: version('/usr/sbin/mosquitto -h 2>&1 | head -1'),
    nginx: version('/usr/sbin/nginx -v 2>&1'),
    nchan: version("dpkg-query -W -f='${Version}' libnginx-mod-nchan"),
  };
}

async function main(): Promise<void> {
  if (flags.profile) return profile(flags.profile);
  const missing = missingPeers();
  if (missing.length > 0) throw new Error(`not installed: ${missing.join(', ')}; run bench/peers/install.sh (or pick targets with --only)`);
  const started = performance.now();
  const uptimeBefore = uptime();
  const startLoad = round(os.loadavg()[0] ?? 0, 2);
  log(`targets ${targets.join(', ')}; phases ${phases.join(', ')}${quick ? ' (quick)' : ''}; ${uptimeBefore}`);
  if (params.crossNode) log(CROSS_NODE_NOTE);
  if (startLoad > 0.5) log(`warning: load average ${startLoad} before starting: other work on this machine will skew the figures`);

  const results: Partial<Record<TargetName, TargetResults>> = {};
  for (const target of targets) results[target] = { errors: {} };
  // Phase by phase, every target in turn: a burst of noise on the shared machine then hits one
  // figure of all targets rather than every figure of one.
  for (const phase of phases) {
    for (const target of targets) {
      const result = results[target]!;
      try {
        if (phase === 'e2e') {
          result.e2e = await e2ePhase(target, params, log);
          // What the guard costs (issue 3): the same load at once with it off, in the same run.
          if (target === 'herald-sqlite') result.e2eGuardOff = await e2ePhase(target, params, log, { settings: { 'guard.enabled': 'false' } });
        }
        else if (phase === 'drain') result.drain = await drainPhase(target, params, log);
        else if (phase === 'idle') result.idle = await idlePhase(target, params, log);
        else result.scale = await scalePhase(target, params, log);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`${target} ${phase} FAILED: ${message}`);
        result.errors[phase] = message;
      }
    }
  }

  for (const target of targets) {
    const r = results[target]!;
    r.description = r.e2e?.description ?? r.drain?.description ?? r.idle?.description ?? r.scale?.description;
  }
  const rows = buildRows(results, targets, params.scaleSteps);
  const m = machine();
  const uptimeAfter = uptime();
  const seconds = round((performance.now() - started) / 1000, 1);
  const report = {
    date: new Date().toISOString(),
    machine: { ...m, loadAverage1mBefore: startLoad, uptimeBefore, uptimeAfter },
    params,
    targets,
    phases,
    rows: rows.map((r) => ({ ...r, values: roundAll(r.values), ratios: roundAll(r.ratios) })),
    results,
    seconds,
  };
  const resultsDir = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
  const caption = `Herald ${m.commit} vs peers — ${report.date.slice(0, 16).replace('T', ' ')} UTC, ${m.cpus} × ${m.cpuModel.replace(/\s+/g, ' ').slice(0, 40)}, load before ${startLoad}`;
  const png = writeChart(path.join(resultsDir, 'chart'), results, targets, caption, params.scaleSteps);

  process.stdout.write(`\nHerald ${m.commit}, node ${m.node}, ${m.cpus} × ${m.cpuModel} (servers and load generator share them)\n`);
  process.stdout.write(`${m.mosquitto}; ${m.nginx}; nchan ${m.nchan}\n`);
  if (params.crossNode) process.stdout.write(`${CROSS_NODE_NOTE}\n`);
  for (const target of targets) {
    const r = results[target]!;
    const scaled = r.scale && r.scale.description !== r.description ? `; scale phase: ${r.scale.description}` : '';
    process.stdout.write(`  ${target}: ${r.description ?? 'not started'}${scaled}\n`);
  }
  process.stdout.write(`before: ${uptimeBefore}\nafter:  ${uptimeAfter}\n\n`);
  process.stdout.write(formatComparison(rows, targets) + '\n\n');
  process.stdout.write('ratio = Herald ÷ best peer (Mosquitto or Nchan) of this run: above 1 is better for msg/s, below 1 is better for the rest.\n');
  const guardOn = results['herald-sqlite']?.e2e;
  const guardOff = results['herald-sqlite']?.e2eGuardOff;
  if (guardOn && guardOff) {
    const line = (e: E2eResult) => `${Math.round(e.messagesPerSecond)} msg/s, ${e.cpuMicrosPerMessage.toFixed(1)} µs server CPU/msg, p99 ${e.latency.p99.toFixed(2)} ms`;
    process.stdout.write(`herald-sqlite guard on:  ${line(guardOn)}\nherald-sqlite guard off: ${line(guardOff)}\n`);
  }
  for (const target of targets) {
    for (const [phase, error] of Object.entries(results[target]!.errors)) process.stdout.write(`FAILED ${target} ${phase}: ${error}\n`);
    const latency = results[target]!.e2e?.latency;
    if (latency && !latency.keptPace) {
      process.stdout.write(`${target}: latency fell behind its pace in ${latency.attempts} attempts (${Math.round(latency.achievedPerSecond)} of ${latency.ratePerSecond}/s): its p50/p99 include a growing queue\n`);
    }
    const scale = results[target]!.scale;
    const lastStep = params.scaleSteps[params.scaleSteps.length - 1]!;
    if (scale && scale.capacity.connections < lastStep) process.stdout.write(`${target}: ${lastStep.toLocaleString('en-US')} subscribers not reachable, measured at ${scale.capacity.connections.toLocaleString('en-US')} (${scale.capacity.why})\n`);
  }
  process.stdout.write(`\nwritten to bench/results/latest.json${png ? ' and bench/results/chart.png' : ''} (${seconds} s)\n`);
  if (targets.some((t) => Object.keys(results[t]!.errors).length > 0)) process.exitCode = 1;
}

function roundAll<T extends Partial<Record<string, number>>>(values: T): T {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, round(v as number, 3)])) as T;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
