/**
 * Servers a test starts on its own ports so it can break them: a throwaway `redis-server` to kill,
 * restart on the same port, or freeze (SIGSTOP) and thaw; a throwaway PostgreSQL cluster to stop
 * and start; and the termination of Herald's own connections on the shared PostgreSQL. Never the
 * shared 6379/5432 servers themselves. Every wait has a deadline.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { waitFor } from './wait.js';

/** A TCP port nothing listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the kernel');
  return address.port;
}

/** `redis-server` on its own port, no persistence: a restart starts empty, as after a crash. */
export class RedisServer {
  private process: ChildProcess | null = null;
  private frozen = false;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  /** Starts it again on the same port (after kill()), and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.process) throw new Error('redis-server is already running');
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    this.process = child;
    child.once('exit', () => {
      if (this.process === child) this.process = null;
    });
    await waitFor(() => this.answers(), 10_000, `redis-server on port ${this.port} to answer`, 50);
  }

  /** SIGKILL: connections drop at once, and everything it held is gone. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = null;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (this.frozen) child.kill('SIGCONT');
    this.frozen = false;
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP: connections stay open and nothing answers (a hung or swapping Redis). */
  freeze(): void {
    if (!this.process) throw new Error('redis-server is not running');
    this.process.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (!this.process || !this.frozen) return;
    this.process.kill('SIGCONT');
    this.frozen = false;
  }

  private async answers(): Promise<boolean> {
    const client = new Redis(this.url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }
}

/** The newest installed PostgreSQL's server binaries (initdb, pg_ctl), or null. */
export function postgresBinaries(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((name) => existsSync(path.join(root, name, 'bin', 'initdb')));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : null;
}

/**
 * A throwaway PostgreSQL cluster (initdb into a temporary folder, owned by the `postgres` user),
 * listening on its own port with trust authentication on loopback: stop() and start() it to see
 * what an outage does.
 */
export class PostgresCluster {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** null when this machine cannot run one (no binaries, no `postgres` user, not root). */
  static unavailable(): string | null {
    if (postgresBinaries() === null) return 'no PostgreSQL server binaries under /usr/lib/postgresql';
    if (process.getuid?.() !== 0) return 'a throwaway PostgreSQL cluster needs root (runuser -u postgres)';
    if (spawnSync('id', ['postgres']).status !== 0) return 'no postgres user';
    return null;
  }

  static async create(): Promise<PostgresCluster> {
    const bin = postgresBinaries();
    if (bin === null) throw new Error('no PostgreSQL server binaries');
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-pg-'));
    chmodSync(dir, 0o777);
    const data = path.join(dir, 'data');
    asPostgres(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    const cluster = new PostgresCluster(bin, dir, await freePort());
    await cluster.start();
    return cluster;
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    asPostgres(path.join(this.bin, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-l', path.join(this.dir, 'log'), '-o', options, '-w', 'start']);
    await waitFor(() => this.answers(), 15_000, `PostgreSQL on port ${this.port} to answer`, 100);
  }

  /** A fast shutdown: sessions are terminated (57P01), new connections are refused. */
  stop(): void {
    asPostgres(path.join(this.bin, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  destroy(): void {
    spawnSync('runuser', ['-u', 'postgres', '--', path.join(this.bin, 'pg_ctl'), '-D', path.join(this.dir, 'data'), '-m', 'immediate', 'stop'], {
      stdio: 'ignore',
    });
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async answers(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }
}

function asPostgres(command: string, args: string[]): void {
  const result = spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${path.basename(command)} failed: ${result.stderr || result.stdout}`);
}

/**
 * Terminates every backend whose application_name is `applicationName` (the test's own
 * connections on a shared server; nobody else's) and returns how many it ended.
 */
export async function terminateBackends(adminUrl: string, applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: adminUrl });
  admin.on('error', () => {});
  await admin.connect();
  try {
    const result = await admin.query<{ ended: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [applicationName],
    );
    return result.rows.filter((row) => row.ended).length;
  } finally {
    await admin.end().catch(() => {});
  }
}

/** `url` with application_name set, so terminateBackends() can find exactly these connections. */
export function withApplicationName(url: string, applicationName: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', applicationName);
  return parsed.toString();
}
