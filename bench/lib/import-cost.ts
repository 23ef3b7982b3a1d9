/**
 * What each optional package costs a cold start, and whether a default `herald serve` loads it
 * (bench/cold-start.ts --imports):
 *   cost    the milliseconds `await import(pkg)` takes in a fresh node, after what every start loads
 *           anyway (fastify, pino, zod), median of N processes: its own share of a start
 *   loaded  whether the compiled server, default config, imported it before its first healthy
 *           heartbeat (seen by an ESM load hook: a package's entry imported from Herald's modules)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median, round } from './stats.js';

/** The packages Herald imports that a start may or may not need (and, for scale, the ones it always does). */
export const OPTIONAL_PACKAGES = ['@fastify/static', 'ioredis', 'rate-limiter-flexible', 'jose', 'prom-client', 'argon2', '@peculiar/x509', 'pg', 'selfsigned'];
const BASE = ['fastify', 'pino', 'zod'];

export interface ImportCost {
  name: string;
  /** Median ms of the import alone, after BASE. */
  ms: number;
  loadedByDefaultStart: boolean;
}

/** Marginal import time of one package, in a fresh process per run. */
function importMs(root: string, name: string, runs: number): number {
  // @peculiar/x509 needs the reflect polyfill first (pitfalls.md), as src/devices loads it.
  const before = name === '@peculiar/x509' ? [...BASE, 'reflect-metadata'] : BASE;
  const code = `for (const m of ${JSON.stringify(before)}) await import(m); const t = performance.now(); await import(${JSON.stringify(name)}); console.log(performance.now() - t);`;
  const times = Array.from({ length: runs }, () => Number(execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' }).trim()));
  return round(median(times), 1);
}

/** The package entries the compiled server imports up to its first healthy heartbeat (default config). */
async function packagesLoadedAtStart(root: string, port: number): Promise<Set<string>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-imports-'));
  const list = path.join(dir, 'loaded.txt');
  const hook = `import { appendFileSync } from 'node:fs'; export async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, context); }`;
  const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;
  const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, 'dist/src/cli/main.js', 'serve', '--port', String(port), '--data-dir', path.join(dir, 'data'), '--log-level', 'warn'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    for (let waited = 0; ; waited += 20) {
      if (waited > 30_000 || child.exitCode !== null) throw new Error('the server did not become healthy');
      const healthy = await fetch(`http://127.0.0.1:${port}/__heartbeat__`).then((r) => r.status === 200, () => false);
      if (healthy) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const names = readFileSync(list, 'utf8').split('\n').map((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]);
    return new Set(names.filter((name): name is string => name !== undefined));
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function importCosts(root: string, port: number, runs: number): Promise<ImportCost[]> {
  const loaded = await packagesLoadedAtStart(root, port);
  return OPTIONAL_PACKAGES.map((name) => ({ name, ms: importMs(root, name, runs), loadedByDefaultStart: loaded.has(name) }));
}

export function formatImportCosts(costs: ImportCost[]): string {
  const width = Math.max(...costs.map((c) => c.name.length));
  const lines = costs.map((c) => `${c.name.padEnd(width)}  ${c.ms.toFixed(1).padStart(6)} ms  ${c.loadedByDefaultStart ? 'loaded by a default start' : 'not loaded by a default start'}`);
  const total = round(costs.filter((c) => c.loadedByDefaultStart).reduce((sum, c) => sum + c.ms, 0), 1);
  return [`package${' '.repeat(Math.max(0, width - 7))}  import alone (after ${BASE.join(', ')})`, ...lines, `loaded by a default start: ${total} ms of imports (each measured alone; shared dependencies counted in each)`].join('\n');
}
