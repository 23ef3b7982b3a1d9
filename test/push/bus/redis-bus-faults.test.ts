/**
 * The Redis bus when its Redis fails (a redis-server this test starts on its own port, then kills,
 * restarts empty, or freezes): deliveries answer at once and are remembered, claims wait to be
 * announced, and when Redis is back presence is written again, the sessions look at storage and
 * the node holding a device a hand-off missed is told. A node also sees a peer's presence lapse.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { SessionRegistry, type LiveSession } from '../../../src/push/connection/registry.js';
import { RedisBus, type FallbackReason, type RedisBusOptions } from '../../../src/push/delivery/redis-bus.js';
import type { LiveMessage } from '../../../src/push/protocol/session.js';
import { RedisServer } from '../../helpers/faults.js';
import { waitFor } from '../../helpers/wait.js';

const CHANNEL = '5f2f3a1e-0b8c-4d4e-9a5a-1c2b3d4e5f60';
let counter = 0;

class Session implements LiveSession {
  readonly received: LiveMessage[] = [];
  rechecks = 0;
  deliverLive(live: LiveMessage): void {
    this.received.push(live);
  }
  terminate(): void {}
  async recheckStorage(): Promise<boolean> {
    this.rechecks++;
    return true;
  }
}

const uaid = () => `${(++counter).toString(16).padStart(8, '0')}${'ef'.repeat(12)}`;

function message(device: string): LiveMessage {
  const now = Date.now();
  const id = `${'ab'.repeat(14)}${(++counter).toString(16).padStart(4, '0')}`;
  return { stored: true, message: { id, uaid: device, channelId: CHANNEL, topic: null, urgency: 'normal', ttl: 60, receivedAt: now, expiresAt: now + 60_000, data: null, headers: null } };
}

describe('the Redis bus when Redis fails', { timeout: 60_000 }, () => {
  const buses: RedisBus[] = [];
  const servers: RedisServer[] = [];
  after(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await Promise.all(servers.map((server) => server.kill()));
  });

  async function node(server: RedisServer, options: Partial<RedisBusOptions> = {}) {
    const registry = new SessionRegistry<Session>();
    const fellBack: FallbackReason[] = [];
    const lapsed: string[] = [];
    const bus = new RedisBus({
      url: server.url,
      devices: registry,
      commandTimeoutMs: 150,
      retryIntervalMs: 100,
      events: { fellBack: (reason) => fellBack.push(reason), peerLapsed: (node) => lapsed.push(node) },
      ...options,
    });
    await bus.start();
    registry.announceTo(bus);
    buses.push(bus);
    const connect = (device: string) => {
      const session = new Session();
      registry.claim(device, session);
      return session;
    };
    return { bus, registry, fellBack, lapsed, connect };
  }

  it('killed and restarted empty: presence is re-announced, sessions recheck, a missed hand-off is told', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const a = await node(server);
    const b = await node(server);
    const before = uaid();
    const session = a.connect(before);
    await a.bus.flush();

    await server.kill();
    await waitFor(() => b.bus.state === 'down' && a.bus.state === 'down', 2000, 'both buses to see Redis down');
    const t0 = Date.now();
    assert.equal(await b.bus.deliver(before, message(before)), false, 'left to storage');
    assert.ok(Date.now() - t0 < 50, 'answered at once, nothing queued');
    assert.deepEqual(b.fellBack, ['redis-down']);
    assert.equal(b.bus.missedHandoffs, 1);
    // A device connecting during the outage: its claim waits for Redis.
    const during = uaid();
    const late = a.connect(during);

    await server.restart();
    await waitFor(() => a.bus.state === 'ok' && b.bus.state === 'ok', 3000, 'both buses to see Redis back');
    const redis = new Redis(server.url);
    try {
      await waitFor(async () => (await redis.get(`herald:presence:${during}`))?.startsWith(`${a.bus.nodeId}.`) === true, 2000, 'the claim made meanwhile');
      await waitFor(async () => (await redis.get(`herald:presence:${before}`))?.startsWith(`${a.bus.nodeId}.`) === true, 2000, 'the lease a restart forgot');
    } finally {
      redis.disconnect();
    }
    // Node A's sessions look at storage once A has re-announced them (B's missed hand-off is
    // dropped when B finds no presence: A's recheck covers it).
    await waitFor(() => session.rechecks >= 1 && late.rechecks >= 1, 3000, 'the sessions to look at storage');
    assert.equal(b.bus.missedHandoffs, 0);
    assert.equal(session.received.length, 0, 'no offline queue: nothing from the outage bursts out on reconnect (storage has it)');
    assert.equal(await b.bus.deliver(before, message(before)), true, 'deliveries cross nodes again');
  });

  it('frozen: one delivery waits for the command timeout, the next ones not at all, until it thaws', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const a = await node(server);
    const b = await node(server);
    const device = uaid();
    const session = a.connect(device);
    await a.bus.flush();

    server.freeze();
    const first = Date.now();
    assert.equal(await b.bus.deliver(device, message(device)), false);
    const firstMs = Date.now() - first;
    assert.ok(firstMs >= 140 && firstMs < 400, `the first waited for the 150 ms command timeout (${firstMs} ms)`);
    const next = Date.now();
    for (let i = 0; i < 10; i++) assert.equal(await b.bus.deliver(device, message(device)), false);
    assert.ok(Date.now() - next < 50, 'the next ones did not ask Redis');
    assert.equal(b.bus.state, 'down');

    server.thaw();
    await waitFor(() => b.bus.state === 'ok', 2000, 'the probe to find Redis answering');
    await waitFor(() => session.rechecks >= 1 && b.bus.missedHandoffs === 0, 2000, "node A's session told to look at storage");
  });

  it('a hand-off its node did not answer is remembered, and that node is told to look at storage', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const a = await node(server);
    const b = await node(server, { deliveryTimeoutMs: 100 });
    const device = uaid();
    const session = a.connect(device);
    await a.bus.flush();
    const mute = new Redis(server.url);
    const raw = new Redis(server.url);
    const heard: string[] = [];
    try {
      // A node that holds the device and never answers (hung, or its answer lost).
      await mute.subscribe('herald:node:mute');
      mute.on('message', (_channel: string, text: string) => heard.push(text));
      await raw.set(`herald:presence:${device}`, 'mute.1', 'PX', 10_000);
      assert.equal(await b.bus.deliver(device, message(device)), false);
      assert.deepEqual(b.fellBack, ['no-answer']);
      await waitFor(() => heard.some((text) => text === JSON.stringify({ t: 'c', u: device })), 2000, 'the check sent to that node');
      assert.equal(b.bus.missedHandoffs, 0, 'told once it listened');
      // The same frame, to the node that has the session, makes it look at storage.
      await raw.publish(`herald:node:${a.bus.nodeId}`, JSON.stringify({ t: 'c', u: device }));
      await waitFor(() => session.rechecks === 1, 2000, 'the session to look at storage');
    } finally {
      mute.disconnect();
      raw.disconnect();
    }
  });

  it("a node sees a peer's presence lapse, and not a peer that stopped cleanly", async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const options = { presenceLeaseMs: 400, refreshIntervalMs: 100 };
    const watcher = await node(server, options);
    const crashed = await node(server, options);
    const stopped = await node(server, options);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await crashed.bus.close({ release: false });
    await stopped.bus.close();
    await waitFor(() => watcher.lapsed.includes(crashed.bus.nodeId), 2000, "the crashed node's lapse");
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.deepEqual(watcher.lapsed, [crashed.bus.nodeId], 'one lapse, reported once');
  });
});
