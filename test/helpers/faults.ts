/**
 * Servers a test starts on its own ports so it can break them: a throwaway `redis-server` to kill,
 * restart on the same port, or freeze (SIGSTOP) and thaw; a throwaway PostgreSQL cluster to stop
 * and start; and the termination of Herald's own connections on the shared PostgreSQL. Never the
 * shared 6379/5432 servers themselves. Beside them, what fault tests look through: Herald nodes
 * in this process as one cluster, devices that ack and record arrivals, the heartbeat, metric
 * values, quantiles. Every wait has a deadline.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadOrCreateSecrets } from '../../src/config/secrets.js';
import { KeyRing } from '../../src/crypto/keyring.js';
import { openMessageId } from '../../src/crypto/tokens.js';
import { CHANNEL_A, startHerald, subscribedDevice, type Frame, type RawDevice, type Running } from './herald.js';
import { captureLog, type CapturedLog } from './log.js';
import { postgresUrl } from './services.js';
import { waitFor } from './wait.js';

type Overrides = Parameters<typeof startHerald>[0];

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

/**
 * Herald nodes in this process sharing one PostgreSQL schema (on the shared server, dropped at
 * stop), one data folder (so one secrets.json) and the bus a test gives them: a cluster whose
 * Redis the test can break. Each node logs into memory at info level.
 */
export class InProcessCluster {
  readonly messageIds: KeyRing;

  private constructor(
    readonly nodes: ClusterNode[],
    private readonly schema: string,
    private readonly dataDir: string,
  ) {
    this.messageIds = new KeyRing(loadOrCreateSecrets(dataDir).secrets.messageIds, 'message-id');
  }

  static async start(count: number, overrides: Overrides): Promise<InProcessCluster> {
    const schema = `herald_faults_${randomBytes(4).toString('hex')}`;
    const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-faults-'));
    loadOrCreateSecrets(dataDir);
    const store = new URL(postgresUrl);
    store.searchParams.set('schema', schema);
    const nodes: ClusterNode[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const log = captureLog();
        const config: Overrides = {
          ...overrides,
          store: { url: store.toString() },
          accounts: { enabled: false },
          tokenserver: { enabled: false },
        };
        nodes.push({ name: String.fromCharCode(65 + i), log, running: await startHerald(config, dataDir, { logger: log.logger }) });
      }
    } catch (error) {
      await Promise.all(nodes.map((node) => node.running.stop({ keepData: true })));
      throw error;
    }
    return new InProcessCluster(nodes, schema, dataDir);
  }

  /** The message id a 201's Location names: the `version` its device sees. */
  versionOf(response: Response): string {
    const location = response.headers.get('location') ?? '';
    const opened = openMessageId(this.messageIds, location.slice(location.lastIndexOf('/') + 1));
    if (!opened) throw new Error(`Location ${location} does not open with the cluster's secrets`);
    return opened.messageId;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.running.stop({ keepData: true })));
    rmSync(this.dataDir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    try {
      await admin.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
    } finally {
      await admin.end();
    }
  }
}

export interface ClusterNode {
  name: string;
  running: Running;
  log: CapturedLog;
}

/**
 * A connected device that acks every notification at once and records when each arrived; it never
 * reconnects (a test checks it did not have to).
 */
export class AckingDevice {
  /** Message id → when it arrived (ms since the epoch), first arrival. */
  readonly received = new Map<string, number>();
  duplicates = 0;
  closedWith: number | null = null;

  private constructor(
    readonly device: RawDevice,
    readonly endpoint: string,
    readonly uaid: string,
  ) {
    device.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.messageType !== 'notification') return;
      const version = frame.version as string;
      if (this.received.has(version)) this.duplicates++;
      else this.received.set(version, Date.now());
      device.ack(frame);
    });
    device.socket.on('close', (code) => {
      this.closedWith = code;
    });
  }

  static async connect(wsUrl: string): Promise<AckingDevice> {
    const { device, endpoint, uaid } = await subscribedDevice(wsUrl, CHANNEL_A);
    return new AckingDevice(device, endpoint, uaid);
  }

  /** The same push endpoint on another node's origin (any node opens any node's tokens). */
  endpointOn(origin: string): string {
    return `${origin}${new URL(this.endpoint).pathname}`;
  }

  close(): void {
    this.device.close();
  }
}

/** The heartbeat as a load balancer sees it: status code, body, and how long it took. */
export async function heartbeat(origin: string): Promise<{ code: number; body: Record<string, string>; ms: number }> {
  const started = Date.now();
  const response = await fetch(`${origin}/__heartbeat__`);
  return { code: response.status, body: (await response.json()) as Record<string, string>, ms: Date.now() - started };
}

/** The value of one sample of a metric in a node's registry (0 when absent). */
export async function metricValue(running: Running, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = running.herald.metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** The q-quantile (0..1) of `values`, nearest rank. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}
