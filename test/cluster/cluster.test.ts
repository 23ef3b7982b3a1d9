/**
 * Herald as a cluster: two `herald serve` processes sharing one PostgreSQL schema, one Redis and
 * one secrets.json, with real devices and real senders. protocol.md §4 across nodes: a message
 * answered 201 is never lost, whichever node accepted it and whichever node dies.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import WebSocket from 'ws';
import { loadOrCreateSecrets } from '../../src/config/secrets.js';
import { KeyRing } from '../../src/crypto/keyring.js';
import { openMessageId } from '../../src/crypto/tokens.js';
import { CHANNEL_A, RawDevice, type Frame } from '../helpers/herald.js';
import { ServingHerald } from '../helpers/process.js';
import { post as send } from '../helpers/sender.js';
import {
  deleteRedisKeys,
  postgresUnavailable,
  postgresUrl,
  redisUnavailable,
  redisUrl,
  requireServices,
  uniquePrefix,
} from '../helpers/services.js';
import { waitFor, within } from '../helpers/wait.js';

const schema = `herald_cluster_${randomBytes(4).toString('hex')}`;
const keyPrefix = uniquePrefix('cluster');
const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-cluster-'));
// Every node of a cluster holds the same secrets.json: created once, before any node starts.
const messageIds = new KeyRing(loadOrCreateSecrets(dataDir).secrets.messageIds, 'message-id');
const storeUrl = (() => {
  const url = new URL(postgresUrl);
  url.searchParams.set('schema', schema);
  return url.toString();
})();

const running = new Set<ServingHerald>();

/** A node: `herald serve` on the shared PostgreSQL schema, Redis prefix and data folder. */
async function startNode(name: string): Promise<ServingHerald> {
  const args = ['--port', '0', '--data-dir', dataDir];
  for (const setting of [`store.url=${storeUrl}`, `bus.url=${redisUrl}`, `bus.keyPrefix=${keyPrefix}`]) args.push('--set', setting);
  const node = await ServingHerald.start(args, { name });
  running.add(node);
  void node.exited.then(() => running.delete(node));
  return node;
}

/** The id a 201's Location names, which is the `version` the device sees. */
function versionOf(response: Response): string {
  const location = response.headers.get('location') ?? '';
  const opened = openMessageId(messageIds, location.slice(location.lastIndexOf('/') + 1));
  assert.ok(opened, `Location ${location} opens with the cluster's secrets`);
  return opened.messageId;
}

/** The same push endpoint on another node: any node of the cluster opens any node's tokens. */
function on(node: ServingHerald, endpoint: string): string {
  const url = new URL(endpoint);
  return `${node.origin}${url.pathname}`;
}

/** A message stored for ten minutes unless `ttl` says otherwise. */
const post = (url: string, ttl = 600) => send(url, { TTL: String(ttl) });

/**
 * A device that reconnects to whichever node is up, acks everything, and proves its acks landed:
 * after each ack it sends a broadcast_subscribe for an unknown id, and the answer (frames are
 * handled in order) means the ack before it was done. A message received again after its ack was
 * proven is a duplicate the protocol does not allow; one whose ack was not proven is allowed.
 */
class FollowingDevice {
  uaid: string | null = null;
  endpoint: string | null = null;
  readonly received = new Map<string, number>();
  readonly proven = new Set<string>();
  readonly violations: string[] = [];
  connections = 0;
  private stopped = false;
  private socket: WebSocket | null = null;
  private barrier = 0;
  private registered: (() => void) | null = null;

  constructor(private readonly pickUrl: () => string) {}

  async start(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.registered = resolve;
    });
    this.connect();
    await within(done, 10_000, 'the following device to register');
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close(1000);
  }

  private connect(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.pickUrl(), ['push-notification']);
    this.socket = socket;
    // Barrier answers come back in order: each names the versions acked before it.
    const barriers: string[][] = [];
    socket.on('open', () => {
      this.connections++;
      socket.send(JSON.stringify({ messageType: 'hello', use_webpush: true, ...(this.uaid ? { uaid: this.uaid } : {}) }));
    });
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      switch (frame.messageType) {
        case 'hello':
          if (this.uaid === null) socket.send(JSON.stringify({ messageType: 'register', channelID: CHANNEL_A }));
          this.uaid = frame.uaid as string;
          return;
        case 'register':
          this.endpoint = frame.pushEndpoint as string;
          this.registered?.();
          return;
        case 'notification': {
          const version = frame.version as string;
          if (this.proven.has(version)) this.violations.push(version);
          this.received.set(version, (this.received.get(version) ?? 0) + 1);
          socket.send(JSON.stringify({ messageType: 'ack', updates: [{ channelID: frame.channelID, version, code: 100 }] }));
          barriers.push([version]);
          socket.send(JSON.stringify({ messageType: 'broadcast_subscribe', broadcasts: { [`sync-${++this.barrier}`]: 'v' } }));
          return;
        }
        case 'broadcast':
          for (const version of barriers.shift() ?? []) this.proven.add(version);
          return;
      }
    });
    socket.on('error', () => {
      // A node going down: 'close' follows and the device goes to another node.
    });
    socket.on('close', () => {
      if (!this.stopped) setTimeout(() => this.connect(), 50);
    });
  }
}

const unavailable = await Promise.all([redisUnavailable(), postgresUnavailable()]);

requireServices(unavailable, (skip) => {
  describe('a two-node cluster on PostgreSQL and Redis', { skip, timeout: 180_000 }, () => {
    after(async () => {
      await Promise.all([...running].map((node) => node.stop('SIGKILL')));
      rmSync(dataDir, { recursive: true, force: true });
      if (skip) return;
      await deleteRedisKeys(keyPrefix);
      const admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.end();
      }
    });

    it('a device on node A receives a message POSTed to node B', async () => {
      const a = await startNode('A');
      const b = await startNode('B');
      try {
        const device = await RawDevice.connect(a.wsUrl);
        await device.hello();
        const endpoint = await device.register(CHANNEL_A);

        const t0 = Date.now();
        const response = await post(on(b, endpoint));
        assert.equal(response.status, 201);
        const notification = await device.next('notification', 2000);
        assert.equal(notification.version, versionOf(response));
        assert.ok(Date.now() - t0 < 1000, 'live across nodes, not drained later');
        device.ack(notification);

        // TTL=0 is never stored: it reaches the device only through the bus.
        const transient = await post(on(b, endpoint), 0);
        assert.equal(transient.status, 201);
        assert.equal((await device.next('notification', 2000)).version, versionOf(transient));
        device.close();
        await device.closed;
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    it('node A is killed with messages pending; the device reconnects to node B and gets every 201', async () => {
      const a = await startNode('A');
      const b = await startNode('B');
      try {
        const device = await RawDevice.connect(a.wsUrl);
        const uaid = await device.hello();
        const endpoint = await device.register(CHANNEL_A);

        const accepted = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const response = await post(on(b, endpoint));
          assert.equal(response.status, 201);
          accepted.add(versionOf(response));
        }
        // Delivered live through node A, never acked.
        for (let i = 0; i < 20; i++) await device.next('notification', 2000);

        await a.stop('SIGKILL');
        const closed = await device.closed;
        assert.equal(closed.code, 1006, 'the socket died with its node');

        // Accepted while the device is away and node A's presence has not run out yet.
        for (let i = 0; i < 5; i++) {
          const t0 = Date.now();
          const response = await post(on(b, endpoint));
          assert.equal(response.status, 201);
          assert.ok(Date.now() - t0 < 450, 'a dead node is not waited for');
          accepted.add(versionOf(response));
        }

        const back = await RawDevice.connect(b.wsUrl);
        assert.equal(await back.hello(uaid), uaid);
        const got = new Set<string>();
        while (got.size < accepted.size) {
          const notification = await back.next('notification', 5000);
          got.add(notification.version as string);
          back.ack(notification);
        }
        assert.deepEqual([...got].sort(), [...accepted].sort());
        back.close();
        await back.closed;
      } finally {
        await Promise.all([a.stop('SIGKILL'), b.stop()]);
      }
    });

    it('a rolling restart of both nodes under a steady send loop loses none and repeats only unproven acks', async () => {
      const nodes: Record<'A' | 'B', ServingHerald | null> = { A: await startNode('A'), B: await startNode('B') };
      const up = () => Object.values(nodes).filter((node): node is ServingHerald => node !== null);
      const pick = () => {
        const live = up();
        const node = live[Math.floor(Math.random() * live.length)];
        assert.ok(node, 'at least one node is up');
        return node;
      };
      const device = new FollowingDevice(() => pick().wsUrl);
      await device.start();
      const endpoint = device.endpoint as string;

      const accepted = new Set<string>();
      let failed = 0;
      let restarted = false;
      let sentAfterRestart = 0;
      const deadline = Date.now() + 60_000;
      const sending = (async () => {
        for (let i = 0; i < 600 && Date.now() < deadline && (!restarted || sentAfterRestart < 30); i++) {
          try {
            const response = await post(on(pick(), endpoint));
            if (response.status === 201) accepted.add(versionOf(response));
            else failed++;
          } catch {
            failed++; // the node went away mid-request: not answered 201, nothing promised
          }
          if (restarted) sentAfterRestart++;
          await new Promise((resolve) => setTimeout(resolve, 20)); // a steady rate, not a wait
        }
      })();

      try {
        for (const name of ['A', 'B'] as const) {
          // Let the loop get messages through the cluster as it is before each restart.
          const before = accepted.size;
          await waitFor(() => accepted.size >= before + 20, 20_000, `20 messages accepted before node ${name} restarts`);
          const node = nodes[name] as ServingHerald;
          nodes[name] = null; // the load balancer stops sending to it, then it stops
          await node.stop('SIGTERM');
          nodes[name] = await startNode(`${name}'`);
        }
        restarted = true;
        await sending;

        await waitFor(() => [...accepted].every((version) => device.received.has(version)), 20_000, 'every accepted message to reach the device');
        const duplicates = [...device.received.values()].filter((times) => times > 1).length;
        console.log(
          `rolling restart: ${accepted.size} accepted, ${failed} not accepted, ${device.received.size} received, ` +
            `${duplicates} received twice (unproven acks), ${device.connections} device connections`,
        );
        assert.ok(accepted.size >= 50, 'the send loop kept sending through the restart');
        assert.ok(device.connections >= 2, 'the device followed the restart onto other nodes');
        assert.deepEqual(device.violations, [], 'no message came again after its ack was proven');
      } finally {
        restarted = true;
        await sending.catch(() => {});
        device.stop();
        await Promise.all(up().map((node) => node.stop()));
      }
    });
  });
});
