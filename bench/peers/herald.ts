/**
 * Herald as a benchmark target: one node on SQLite (the default deployment), or N nodes sharing a
 * fresh PostgreSQL schema, a fresh Redis key prefix and one secrets.json (the scale-out deployment).
 * Devices are spread over the nodes (device i on node i mod N); message i is POSTed to node i mod N
 * (its device's node: delivered locally) or, with crossNode, to the node after its device's.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadOrCreateSecrets } from '../../src/config/secrets.js';
import { BenchDevice } from '../lib/devices.js';
import { makeBodies, PushSender } from '../lib/sender.js';
import { startHerald, type HeraldProcess } from '../lib/server.js';
import type { ConnectOptions, Endpoint, Publisher, RunningTarget, StartOptions, Subscriber, TargetClient } from './types.js';
import { openMany, pidsByName } from './util.js';

export const POSTGRES_URL = process.env.HERALD_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.HERALD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One process holds at most 20,000 open files here (pitfalls.md); a few are the store's and the runtime's. */
const CONNECTIONS_PER_PROCESS = 19_000;

export async function startHeraldSqlite(options: StartOptions = {}): Promise<RunningTarget> {
  const node = await startHerald({
    ...(options.inspect ? { inspect: true } : {}),
    ...(options.nodeFlags ? { nodeFlags: options.nodeFlags } : {}),
    ...(options.settings ? { settings: options.settings } : {}),
  });
  return heraldTarget('herald-sqlite', [node], 'one node, SQLite (WAL) in a temporary folder', false, async () => {});
}

export async function startHeraldPostgres(options: StartOptions = {}): Promise<RunningTarget> {
  const nodes = options.processes ?? 2;
  const suffix = randomBytes(4).toString('hex');
  const schema = `herald_bench_${suffix}`;
  const keyPrefix = `herald-bench-${suffix}`;
  const storeUrl = new URL(POSTGRES_URL);
  storeUrl.searchParams.set('schema', schema);
  // Every node of a cluster holds the same secrets.json: created once, before any node starts.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-bench-cluster-'));
  loadOrCreateSecrets(dataDir);
  const settings = { 'store.url': storeUrl.toString(), 'bus.url': REDIS_URL, 'bus.keyPrefix': keyPrefix };
  const started: HeraldProcess[] = [];
  const cleanUp = async () => {
    await Promise.all(started.map((node) => node.stop()));
    await dropSchema(schema);
    await deleteRedisKeys(keyPrefix);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // One at a time: the first runs the migrations (the others would wait on its advisory lock anyway).
    for (let i = 0; i < nodes; i++) {
      started.push(await startHerald({ dataDir, settings, ...(options.inspect ? { inspect: true } : {}), ...(options.nodeFlags ? { nodeFlags: options.nodeFlags } : {}) }));
    }
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const how = `${nodes} nodes, PostgreSQL (schema ${schema}) + Redis bus${options.crossNode ? ", each message POSTed to a node other than its device's" : ''}`;
  return heraldTarget('herald-pg', started, how, options.crossNode === true, async () => {
    await dropSchema(schema);
    await deleteRedisKeys(keyPrefix);
    rmSync(dataDir, { recursive: true, force: true });
  });
}

function heraldTarget(name: 'herald-sqlite' | 'herald-pg', nodes: HeraldProcess[], description: string, crossNode: boolean, afterStop: () => Promise<void>): RunningTarget {
  const endpoint: Endpoint = { target: name, subscribeUrls: nodes.map((n) => n.wsUrl), publishUrls: nodes.map((n) => n.origin), ...(crossNode ? { crossNode } : {}) };
  return {
    name,
    endpoint,
    description,
    capacity: {
      connections: CONNECTIONS_PER_PROCESS * nodes.length,
      why: `${nodes.length} process${nodes.length > 1 ? 'es' : ''} × 20,000 open files`,
    },
    pids: () => nodes.map((n) => n.pid),
    // The cluster's PostgreSQL backends and Redis do part of the work; they also serve other users of this machine.
    servicePids: () => (name === 'herald-pg' ? pidsByName(['postgres', 'redis-server']) : []),
    collectGarbage: async () => {
      await Promise.all(nodes.map((n) => n.collectGarbage()));
    },
    eventLoopDelayP99Ms: async () => Math.max(...(await Promise.all(nodes.map((n) => n.eventLoopDelayP99Ms())))),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await afterStop();
    },
  };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end().catch(() => {});
  }
}

async function deleteRedisKeys(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    const stream = client.scanStream({ match: `${prefix}*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await client.unlink(...keys);
  } finally {
    client.disconnect();
  }
}

/** The client half: raw `ws` devices (bench/lib/devices.ts) and keep-alive POSTs (bench/lib/sender.ts). */
export function heraldClient(endpoint: Endpoint): TargetClient {
  /** The node each device registered on, by its endpoint path (crossNode). */
  const nodeOfDevice = new Map<string, number>();
  return {
    async connect(count: number, options: ConnectOptions): Promise<Subscriber[]> {
      // A reconnecting device gets its stored messages right after hello, before connect() returns:
      // the wrapper is made on first sight, from either side.
      const wrappers = new Map<BenchDevice, HeraldSubscriber>();
      const urls = endpoint.subscribeUrls.length;
      const wrap = (device: BenchDevice) => {
        let wrapper = wrappers.get(device);
        if (!wrapper) wrappers.set(device, (wrapper = new HeraldSubscriber(device)));
        return wrapper;
      };
      const addresses = options.localAddresses ?? [];
      const devices = await openMany(count, options.concurrency ?? 100, (i) => {
        const uaid = options.resumeKeys?.[i];
        const localAddress = addresses.length > 0 ? addresses[i % addresses.length] : undefined;
        return BenchDevice.connect({
          url: endpoint.subscribeUrls[i % urls]!,
          register: uaid === undefined,
          onNotification: (device, _frame, at) => options.onMessage(wrap(device), at),
          ...(uaid ? { uaid } : {}),
          ...(localAddress ? { localAddress } : {}),
        });
      });
      // A device that registered has its endpoint now; a reconnecting one kept its first node's.
      devices.forEach((device, i) => {
        if (device.endpointPath !== '') nodeOfDevice.set(device.endpointPath, i % urls);
      });
      return devices.map(wrap);
    },
    publisher(inFlight: number, ttlSeconds: number): Publisher {
      // One sender per node, each with the full socket pool: message i goes to node i mod N, which
      // is its subscriber's (subscriber i mod devices, on node i mod N when N divides the device
      // count, as in every phase); with crossNode, to the node after its subscriber's.
      const senders = endpoint.publishUrls.map((origin) => new PushSender(origin, ttlSeconds, inFlight));
      const pick = (index: number, publishKey: string): number => {
        if (!endpoint.crossNode) return index % senders.length;
        const node = nodeOfDevice.get(publishKey);
        if (node === undefined) throw new Error(`--cross-node: no node known for ${publishKey} (not connected by this client)`);
        return (node + 1) % senders.length;
      };
      return {
        async publish(index, publishKey, body) {
          await senders[pick(index, publishKey)]!.post(publishKey, body);
        },
        get failures() {
          return senders.reduce((sum, s) => sum + s.failures, 0);
        },
        get lastFailure() {
          return senders.map((s) => s.lastFailure).find((f) => f !== '') ?? '';
        },
        async close() {
          for (const sender of senders) sender.close();
        },
      };
    },
    bodies: (count, payloadBytes) => makeBodies(count, payloadBytes),
  };
}

class HeraldSubscriber implements Subscriber {
  constructor(private readonly device: BenchDevice) {}
  get resumeKey(): string {
    return this.device.uaid;
  }
  get publishKey(): string {
    return this.device.endpointPath;
  }
  get received(): number {
    return this.device.received;
  }
  close(): Promise<void> {
    return this.device.close();
  }
}
