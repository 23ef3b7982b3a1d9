/**
 * Herald as a child process, the way an operator runs it (`herald serve`), with the two readings a
 * benchmark needs from outside: CPU seconds (utime + stime of every thread) and resident memory.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Linux reports utime/stime in clock ticks; 100 on every mainstream kernel configuration. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ServerOptions {
  /** Extra node flags for the server process, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  nodeFlags?: string[];
  /** `--set section.option=value` overrides. */
  settings?: Record<string, string | number | boolean>;
  /** Open the inspector on a loopback port, for collectGarbage() and heapUsedBytes(). */
  inspect?: boolean;
  /** Use this data folder (e.g. one secrets.json shared by the nodes of a cluster) and leave it in place on stop. */
  dataDir?: string;
}

export interface HeraldProcess {
  pid: number;
  /** ws://… URL devices connect to. */
  wsUrl: string;
  /** http://host:port of the sender endpoint. */
  origin: string;
  dataDir: string;
  /** CPU seconds the server has used so far (user + system, all threads). */
  cpuSeconds(): number;
  /** The same, split: user (JS, SQLite, crypto) and system (syscalls: sockets, WAL writes). */
  cpuTimes(): { user: number; system: number };
  /** Resident set size in bytes (VmRSS). */
  rssBytes(): number;
  /** A full GC in the server (needs `inspect`). */
  collectGarbage(): Promise<void>;
  /** V8 heap in use, after whatever GC last ran (needs `inspect`). */
  heapUsedBytes(): Promise<number>;
  /**
   * The event loop's delay p99 in ms since the last call (Herald's /metrics: prom-client resets its
   * event-loop histogram on every scrape, so call it once before a window to start one).
   */
  eventLoopDelayP99Ms(): Promise<number>;
  /** SIGINT (Herald stops cleanly, so --cpu-prof gets written), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export async function startHerald(options: ServerOptions = {}): Promise<HeraldProcess> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'herald-bench-'));
  const args = [
    ...(options.nodeFlags ?? []),
    ...(options.inspect ? ['--inspect=127.0.0.1:0'] : []),
    '--import',
    'tsx',
    'src/cli/main.ts',
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    // info only for the one startup line; Herald logs nothing per request at this level.
    '--log-level',
    'info',
  ];
  // /metrics on the device port, for the event-loop delay (a throwaway token: this process only).
  const metricsToken = randomBytes(32).toString('hex');
  args.push('--set', `server.metricsToken=${metricsToken}`);
  for (const [option, value] of Object.entries(options.settings ?? {})) args.push('--set', `${option}=${String(value)}`);

  // HERALD_* variables of the caller's shell would change what is measured.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('HERALD_')));
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  let inspectorUrl: string | null = null;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(stderr.join(''))?.[1] ?? null;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const listening = await new Promise<{ wsUrl: string; origin: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`Herald did not start within 30 s\n${stderr.join('')}`)), 30_000);
    lines.on('line', (line) => {
      let entry: { devices?: unknown; publicOrigin?: unknown; level?: unknown; msg?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (typeof entry.devices === 'string' && typeof entry.publicOrigin === 'string') {
        clearTimeout(timer);
        resolve({ wsUrl: entry.devices, origin: entry.publicOrigin });
      } else if (typeof entry.level === 'number' && entry.level >= 40) {
        process.stderr.write(`herald: ${String(entry.msg)}\n`);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`Herald exited with ${String(code)} before listening\n${stderr.join('')}`));
    });
  });

  const pid = child.pid as number;
  return {
    pid,
    ...listening,
    dataDir,
    cpuSeconds: () => readCpuSeconds(pid),
    cpuTimes: () => readCpuTimes(pid),
    rssBytes: () => readRssBytes(pid),
    collectGarbage: async () => {
      await inspectorCall(inspectorUrl, 'HeapProfiler.collectGarbage');
    },
    heapUsedBytes: async () => ((await inspectorCall(inspectorUrl, 'Runtime.getHeapUsage')) as { usedSize: number }).usedSize,
    eventLoopDelayP99Ms: () => eventLoopDelayP99Ms(listening.origin, metricsToken),
    stop: async () => {
      await stopChild(child, exited);
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * prom-client samples the loop with a 10 ms timer (its default eventLoopMonitoringPrecision, which
 * Herald keeps) and records each whole interval: an idle Herald shows p99 ≈ 10.2 ms. The delay is
 * what exceeds it.
 */
const EVENT_LOOP_SAMPLING_MS = 10;

async function eventLoopDelayP99Ms(origin: string, token: string): Promise<number> {
  const response = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  const line = /^herald_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(await response.text());
  if (!line) throw new Error('GET /metrics has no herald_nodejs_eventloop_lag_p99_seconds');
  return Math.max(0, Number(line[1]) * 1000 - EVENT_LOOP_SAMPLING_MS);
}

/** One Chrome DevTools protocol call over a fresh inspector connection. */
async function inspectorCall(url: string | null, method: string): Promise<unknown> {
  if (!url) throw new Error('the server was not started with inspect: true (or the inspector did not open)');
  const socket = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return await new Promise<unknown>((resolve, reject) => {
      socket.on('message', (data) => {
        const answer = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
        if (answer.id !== 1) return;
        if (answer.error) reject(new Error(`${method}: ${answer.error.message}`));
        else resolve(answer.result);
      });
      socket.send(JSON.stringify({ id: 1, method }));
    });
  } finally {
    socket.close();
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** utime + stime from /proc/<pid>/stat (fields 14 and 15; the name in parentheses may hold spaces). */
export function readCpuSeconds(pid: number): number {
  const { user, system } = readCpuTimes(pid);
  return user + system;
}

export function readCpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return { user: Number(fields[11]) / CLOCK_TICKS_PER_SECOND, system: Number(fields[12]) / CLOCK_TICKS_PER_SECOND };
}

/** Busy CPU seconds of the whole machine so far (all cores; idle and iowait excluded). */
export function readMachineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
}

export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}
