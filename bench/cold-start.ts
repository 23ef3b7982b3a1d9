/**
 * Cold start: from spawning `herald serve` to the first 200 of GET /__heartbeat__ (storage
 * checked), for the ways Herald can be started, each the median of N runs:
 *
 *   tsx       node --import tsx src/cli/main.ts serve   (what `npm start` ran before the build)
 *   compiled  node dist/src/cli/main.js serve           (what `npm start` runs now)
 *   command   node bin/herald.js serve                  (the `herald` command; checks the build is fresh)
 *
 * once with an empty data folder (first start: secrets, database, migrations) and once with the
 * folder the first run left (a restart). Target: ≤ 0.5 s from the compiled build.
 *
 *   npm run bench:cold-start -- [--runs=N] [--only=tsx,compiled,command]
 *   npm run bench:cold-start -- --imports [--runs=N]   what each optional package's import costs
 *                                                      and whether a default start loads it
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatImportCosts, importCosts } from './lib/import-cost.js';
import { formatTable, median, round, type Figure } from './lib/stats.js';
import { loadavg } from 'node:os';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WAYS: Record<string, string[]> = {
  tsx: ['--import', 'tsx', 'src/cli/main.ts'],
  compiled: ['dist/src/cli/main.js'],
  command: ['bin/herald.js'],
};
const TIMEOUT_MS = 30_000;

function option(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Start {
  /** Wall seconds from spawn to the first 200 heartbeat. */
  seconds: number;
  /** CPU seconds the server used by then (user + system, from /proc; NaN elsewhere): less swayed by a busy machine. */
  cpuSeconds: number;
}

/** The CPU time a process has used so far, from /proc/<pid>/stat (Linux). */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** One start to a 200 heartbeat; the server is stopped (SIGTERM) before it returns. */
async function startOnce(way: string[], dataDir: string): Promise<Start> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...way, 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`herald exited with ${child.exitCode} before its heartbeat`);
      if (performance.now() - started > TIMEOUT_MS) throw new Error(`no healthy heartbeat within ${TIMEOUT_MS} ms`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/__heartbeat__`);
        if (response.status === 200) {
          const seconds = (performance.now() - started) / 1000;
          return { seconds, cpuSeconds: child.pid === undefined ? Number.NaN : cpuSecondsOf(child.pid) };
        }
      } catch {
        // not listening yet
      }
      // Polling costs CPU the server shares on a small machine: every 10 ms is fine-grained enough.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

async function main(): Promise<void> {
  const runs = Number(option('runs') ?? 7);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const only = (option('only') ?? Object.keys(WAYS).join(',')).split(',');
  for (const name of only) if (!WAYS[name]) throw new Error(`--only: unknown way "${name}" (${Object.keys(WAYS).join(', ')})`);
  // The compiled ways measure a build of the current sources.
  execFileSync(process.execPath, ['bin/build.js', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  if (process.argv.includes('--imports')) {
    process.stdout.write(`${formatImportCosts(await importCosts(ROOT, await freePort(), runs))}\n`);
    return;
  }

  const figures: Figure[] = [];
  for (const name of only) {
    const first: Start[] = [];
    const again: Start[] = [];
    for (let run = 0; run < runs; run++) {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-cold-'));
      try {
        first.push(await startOnce(WAYS[name] as string[], dataDir));
        again.push(await startOnce(WAYS[name] as string[], dataDir));
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    const target = name === 'tsx' ? '' : '≤ 0.5';
    for (const [phase, starts] of [['empty data folder', first], ['restart', again]] as const) {
      const wall = starts.map((start) => round(start.seconds, 3));
      const cpu = starts.map((start) => round(start.cpuSeconds, 2));
      figures.push({ figure: `${name}: ${phase}`, value: median(wall), unit: 's', target, runs: wall });
      figures.push({ figure: `${name}: ${phase}, server CPU`, value: median(cpu), unit: 's', target: '', runs: cpu });
    }
  }
  const load = loadavg().map((value) => value.toFixed(2)).join(' ');
  process.stdout.write(`cold start to a healthy /__heartbeat__, median of ${runs} runs (node ${process.version}, load average ${load})\n\n${formatTable(figures)}\n`);
}

await main();
