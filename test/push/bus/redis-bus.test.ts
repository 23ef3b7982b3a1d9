/**
 * Two Redis bus nodes in one process, each with its own registry of (plain) sessions, against the
 * real Redis: delivery across nodes (one round trip to Redis, watched with MONITOR), what each
 * presence value means to a hand-off, presence leases, releases that must not erase a newer claim,
 * and a socket replaced by a newer one on the other node.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { SessionRegistry } from '../../../src/push/connection/registry.js';
import { RecordingSession } from './conformance.js';
import { RedisBus, type FallbackReason, type RedisBusOptions } from '../../../src/push/delivery/redis-bus.js';
import { decodeFrame, encodeFrame } from '../../../src/push/delivery/redis-frames.js';
import type { LiveMessage } from '../../../src/push/protocol/session.js';
import { deleteRedisKeys, redisUnavailable, redisUrl, requireServices, uniquePrefix } from '../../helpers/services.js';

const PREFIX = uniquePrefix('bus');
const CHANNEL = '5f2f3a1e-0b8c-4d4e-9a5a-1c2b3d4e5f60';
let uaidCounter = 0;

interface Node {
  bus: RedisBus;
  registry: SessionRegistry<RecordingSession>;
  connect(uaid: string): RecordingSession;
}

const nodes: RedisBus[] = [];
const errors: unknown[] = [];

async function startNode(options: Partial<RedisBusOptions> = {}): Promise<Node> {
  const registry = new SessionRegistry<RecordingSession>();
  const bus = new RedisBus({ url: redisUrl, devices: registry, keyPrefix: PREFIX, onError: (error) => errors.push(error), ...options });
  await bus.start();
  registry.announceTo(bus);
  nodes.push(bus);
  return {
    bus,
    registry,
    connect(uaid) {
      const session = new RecordingSession(registry, uaid);
      registry.claim(uaid, session);
      return session;
    },
  };
}

function newUaid(): string {
  return `${(++uaidCounter).toString(16).padStart(8, '0')}${'ab'.repeat(12)}`;
}

function message(uaid: string, text = 'hello'): LiveMessage {
  const now = Date.now();
  return {
    stored: true,
    message: {
      id: `${'cd'.repeat(14)}${(++uaidCounter).toString(16).padStart(4, '0')}`,
      uaid,
      channelId: CHANNEL,
      topic: null,
      urgency: 'normal',
      ttl: 60,
      receivedAt: now,
      expiresAt: now + 60_000,
      data: Buffer.from(text),
      headers: { encoding: 'aes128gcm' },
    },
  };
}

/** Addresses (ip:port) of the Redis connections named `name`, as CLIENT LIST and MONITOR show them. */
async function addressesOf(redis: Redis, name: string): Promise<Set<string>> {
  const list = (await redis.client('LIST')) as string;
  const addresses = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /(?:^| )addr=(\S+)/.exec(line)?.[1] ?? '');
  return new Set(addresses.filter(Boolean));
}

interface SeenCommand {
  name: string;
  args: string[];
  /** ip:port of the client, or "lua" for a command a script ran. */
  source: string;
}

/** Every command Redis runs from now (MONITOR), until stop(), which waits for a marker to come through. */
async function watchCommands(): Promise<{ monitor: Redis; stop(): Promise<SeenCommand[]> }> {
  // monitor() opens a connection of its own: the one it is called on is only its template.
  const template = new Redis(redisUrl, { lazyConnect: true });
  const monitor = await template.monitor();
  template.disconnect();
  const seen: SeenCommand[] = [];
  const marker = `end-of-watch-${process.pid}-${Date.now()}`;
  let ended = false;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) ended = true;
    if (!ended) seen.push({ name: (args[0] ?? '').toLowerCase(), args: args.slice(1), source });
  });
  return {
    monitor,
    async stop() {
      const redis = new Redis(redisUrl);
      try {
        await redis.echo(marker);
      } finally {
        redis.disconnect();
      }
      await until(() => ended);
      return seen;
    },
  };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const unavailable = await redisUnavailable();

requireServices([unavailable], (skip) => {
  describe('Redis bus between two nodes', { skip }, () => {
    const redis = skip ? null : new Redis(redisUrl);
    const presence = (uaid: string) => (redis as Redis).get(`${PREFIX}:presence:${uaid}`);

    after(async () => {
      await Promise.all(nodes.map((bus) => bus.close()));
      if (redis) {
        redis.disconnect();
        await deleteRedisKeys(PREFIX);
      }
    });

    it('a message accepted on node B reaches the device connected to node A', async () => {
      const a = await startNode();
      const b = await startNode();
      const uaid = newUaid();
      const device = a.connect(uaid);
      await a.bus.flush();

      const live = message(uaid, 'across nodes');
      assert.equal(await b.bus.deliver(uaid, live), true);
      assert.equal(device.received.length, 1);
      const got = device.received[0] as LiveMessage;
      assert.deepEqual(got, live, 'the message arrives whole: ids, times, headers, data bytes');

      assert.equal(await b.bus.deliver(newUaid(), message(uaid)), false, 'a device connected nowhere: left to storage');
      assert.equal(await a.bus.deliver(uaid, message(uaid)), true, 'on its own node the device is handed the message directly');
      assert.equal(device.received.length, 2);
    });

    it('a node that stops refreshing loses its devices when the lease runs out', async () => {
      const a = await startNode({ presenceLeaseMs: 400, refreshIntervalMs: 100 });
      const b = await startNode();
      const uaid = newUaid();
      a.connect(uaid);
      await a.bus.flush();

      await new Promise((resolve) => setTimeout(resolve, 1200));
      assert.equal(await presence(uaid), `${a.bus.nodeId}.1`, 'refreshed past three leases while the device is connected');
      assert.equal(await b.bus.deliver(uaid, message(uaid)), true);

      // Node A dies: nothing deletes its keys, nothing refreshes them.
      await a.bus.close({ release: false });
      const t0 = Date.now();
      assert.equal(await b.bus.deliver(uaid, message(uaid)), false, 'nobody listens on a dead node: left to storage');
      assert.ok(Date.now() - t0 < 400, 'answered without waiting for the delivery timeout');
      await until(async () => (await presence(uaid)) === null, 2000);
    });

    it('a release on the old node does not erase the newer owner', async () => {
      const a = await startNode();
      const b = await startNode();
      const uaid = newUaid();
      const first = a.connect(uaid);
      await a.bus.flush();
      const second = b.connect(uaid);
      await b.bus.flush();
      await until(() => first.closedWith !== null);
      await a.bus.flush();
      assert.match((await presence(uaid)) ?? '', new RegExp(`^${b.bus.nodeId}\\.`), 'presence names node B');
      assert.equal(await a.bus.deliver(uaid, message(uaid)), true, 'node A routes to the device on node B');
      assert.equal(second.received.length, 1);

      // A late release of an older claim, after another node's claim overwrote the key.
      const other = newUaid();
      const old = a.connect(other);
      await a.bus.flush();
      await (redis as Redis).set(`${PREFIX}:presence:${other}`, 'elsewhere.7', 'PX', 10_000);
      a.registry.release(other, old);
      await a.bus.flush();
      assert.equal(await presence(other), 'elsewhere.7');
    });

    it('a second socket on another node replaces the first, which closes 1011', async () => {
      const a = await startNode();
      const b = await startNode();
      const uaid = newUaid();
      const first = a.connect(uaid);
      await a.bus.flush();
      const second = b.connect(uaid);
      await until(() => first.closedWith !== null);
      assert.deepEqual(first.closedWith, { code: 1011, reason: 'replaced by a newer connection' });
      assert.equal(second.closedWith, null);
      assert.equal(a.registry.size, 0);
      assert.equal(a.bus.presenceCount, 0);

      // The device comes back to node A: that claim is the newest, and node B's socket closes.
      const third = a.connect(uaid);
      await until(() => second.closedWith !== null);
      assert.equal(third.closedWith, null);
      await b.bus.flush();
      assert.match((await presence(uaid)) ?? '', new RegExp(`^${a.bus.nodeId}\\.`));
    });

    it('a lost "replace" message is made up for at the next refresh', async () => {
      const a = await startNode({ presenceLeaseMs: 3000, refreshIntervalMs: 100 });
      const uaid = newUaid();
      const device = a.connect(uaid);
      await a.bus.flush();
      await (redis as Redis).set(`${PREFIX}:presence:${uaid}`, 'elsewhere.1', 'PX', 10_000);
      await until(() => device.closedWith !== null);
      assert.equal(device.closedWith?.code, 1011);
      assert.equal(await presence(uaid), 'elsewhere.1');
    });

    it('a node that does not answer in time leaves the message to storage', async () => {
      const b = await startNode({ deliveryTimeoutMs: 200 });
      const uaid = newUaid();
      const mute = new Redis(redisUrl);
      try {
        await mute.subscribe(`${PREFIX}:node:mute`);
        await (redis as Redis).set(`${PREFIX}:presence:${uaid}`, 'mute.1', 'PX', 10_000);
        const t0 = Date.now();
        assert.equal(await b.bus.deliver(uaid, message(uaid)), false);
        assert.ok(Date.now() - t0 >= 190, 'waited for the answer until the timeout');
      } finally {
        mute.disconnect();
      }
    });

    it('a hand-off to another node is one command to Redis: presence read and PUBLISH in one round trip', async () => {
      const a = await startNode();
      // No background commands from B while it is watched: no probe, no refresh in the window.
      const b = await startNode({ retryIntervalMs: 60_000, refreshIntervalMs: 60_000 });
      const uaid = newUaid();
      const device = a.connect(uaid);
      await a.bus.flush();
      const fromB = await addressesOf(redis as Redis, `herald-${b.bus.nodeId}`);
      assert.equal(fromB.size, 2, "node B's command and subscriber connections");

      const watched = await watchCommands();
      try {
        // v2: the sender key hash travels with the message (the per-app "delivered" count at the ack).
        const live: LiveMessage = { ...message(uaid, 'one round trip'), senderKeyHash: Buffer.alloc(32, 7) };
        assert.equal(await b.bus.deliver(uaid, live), true);
        assert.deepEqual(device.received, [live]);
        const seen = await watched.stop();
        const byB = seen.filter((c) => fromB.has(c.source)).map((c) => c.name);
        assert.deepEqual(byB, ['evalsha'], 'node B sent one command for the whole hand-off');
        assert.ok(
          seen.some((c) => c.source === 'lua' && c.name === 'publish' && c.args[0] === `${PREFIX}:node:${a.bus.nodeId}`),
          "the frame was published to node A's channel from inside the script",
        );
      } finally {
        watched.monitor.disconnect();
      }
    });

    it('what presence says decides the hand-off: nobody, this node, a lapsed node, a node that listens', async () => {
      const fellBack: FallbackReason[] = [];
      const b = await startNode({ events: { fellBack: (reason) => fellBack.push(reason) } });
      const set = (uaid: string, value: string) => (redis as Redis).set(`${PREFIX}:presence:${uaid}`, value, 'PX', 10_000);
      assert.equal(await b.bus.deliver(newUaid(), message('x')), false, 'connected nowhere');
      const own = newUaid();
      await set(own, `${b.bus.nodeId}.42`);
      assert.equal(await b.bus.deliver(own, message(own)), false, "this node's claim without a session: a socket that just closed");
      const foreign = newUaid();
      await set(foreign, 'not-a-claim');
      assert.equal(await b.bus.deliver(foreign, message(foreign)), false, 'a value Herald did not write');
      assert.deepEqual(fellBack, [], 'none of these is a hand-off left to storage');

      const lapsed = newUaid();
      await set(lapsed, 'lapsed.node.3');
      const t0 = Date.now();
      assert.equal(await b.bus.deliver(lapsed, message(lapsed)), false);
      assert.ok(Date.now() - t0 < 400, 'nobody listens on its channel: answered without waiting for the delivery timeout');
      assert.deepEqual(fellBack, ['node-gone'], 'the owner is everything before the last "." (lapsed.node): a hand-off that missed');
      assert.equal(b.bus.missedHandoffs, 1);

      // A node that listens hears the whole deliver frame, naming B as the node to answer.
      const listener = new Redis(redisUrl);
      try {
        const heard: string[] = [];
        listener.on('message', (_channel: string, text: string) => heard.push(text));
        await listener.subscribe(`${PREFIX}:node:listening`);
        const held = newUaid();
        await set(held, 'listening.1');
        const live = message(held, 'to a listening node');
        const answered = b.bus.deliver(held, live);
        await until(() => heard.length === 1);
        const frame = decodeFrame(heard[0] as string);
        assert.ok(frame?.type === 'deliver');
        assert.equal(frame.replyTo, b.bus.nodeId);
        assert.deepEqual(frame.live, live);
        await (redis as Redis).publish(`${PREFIX}:node:${b.bus.nodeId}`, encodeFrame({ type: 'answer', requestId: frame.requestId, ok: true }));
        assert.equal(await answered, true, "the listening node's answer decides");
      } finally {
        listener.disconnect();
      }
    });

    it('closing a node deletes the presence it still holds and ends its connections', async () => {
      const a = await startNode();
      const kept = newUaid();
      const gone = newUaid();
      a.connect(kept);
      const leaving = a.connect(gone);
      leaving.terminate(1000, 'bye');
      await a.bus.flush();
      assert.equal(await presence(gone), null, 'released at close of the socket');
      assert.notEqual(await presence(kept), null);
      await a.bus.close();
      assert.equal(await presence(kept), null);
      assert.deepEqual(errors, []);
    });
  });
});
