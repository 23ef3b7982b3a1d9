/**
 * What every Bus does (src/push/delivery/bus.ts), as named cases run on each implementation: the
 * local bus and the Redis bus, one node each (test/push/bus/redis-bus.test.ts adds what only a
 * cluster has: other nodes, leases, replacement across nodes).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SessionRegistry, type LiveSession } from '../../../src/push/connection/registry.js';
import type { Bus, LocalDevices } from '../../../src/push/delivery/bus.js';
import type { LiveMessage } from '../../../src/push/protocol/session.js';

const CHANNEL = '5f2f3a1e-0b8c-4d4e-9a5a-1c2b3d4e5f60';
let counter = 0;

/** A session as the registry sees it: it records what it is handed and how it was closed. */
export class RecordingSession implements LiveSession {
  readonly received: LiveMessage[] = [];
  closedWith: { code: number; reason: string } | null = null;

  constructor(
    private readonly registry: SessionRegistry<RecordingSession>,
    readonly uaid: string,
  ) {}

  deliverLive(live: LiveMessage): void {
    this.received.push(live);
  }

  terminate(code: number, reason: string): void {
    if (this.closedWith) return;
    this.closedWith = { code, reason };
    this.registry.release(this.uaid, this);
  }
}

export function newUaid(): string {
  return `${(++counter).toString(16).padStart(8, '0')}${'ef'.repeat(12)}`;
}

export function liveMessage(uaid: string, options: { stored?: boolean; text?: string } = {}): LiveMessage {
  const now = Date.now();
  const stored = options.stored ?? true;
  return {
    stored,
    message: {
      id: `${'cd'.repeat(14)}${(++counter).toString(16).padStart(4, '0')}`,
      uaid,
      channelId: CHANNEL,
      topic: null,
      urgency: 'normal',
      ttl: stored ? 60 : 0,
      receivedAt: now,
      expiresAt: now + (stored ? 60_000 : 0),
      data: Buffer.from(options.text ?? 'hello'),
      headers: { encoding: 'aes128gcm' },
    },
  };
}

/** Builds a started bus over `devices`; the suite closes it. */
export type BusFactory = (devices: LocalDevices) => Promise<Bus>;

interface Node {
  bus: Bus;
  registry: SessionRegistry<RecordingSession>;
  connect(uaid: string): RecordingSession;
}

export function busConformance(name: string, makeBus: BusFactory, options: { skip: false | string }): void {
  describe(`Bus conformance: ${name}`, { skip: options.skip }, () => {
    const started: Bus[] = [];
    after(async () => {
      for (const bus of started) await bus.close();
    });

    async function node(): Promise<Node> {
      const registry = new SessionRegistry<RecordingSession>();
      const bus = await makeBus(registry);
      started.push(bus);
      registry.announceTo(bus);
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

    it('a message for a device connected to this node reaches its session, byte for byte', async () => {
      const { bus, connect } = await node();
      const uaid = newUaid();
      const session = connect(uaid);
      const live = liveMessage(uaid, { text: 'across the bus' });
      assert.equal(await bus.deliver(uaid, live), true);
      assert.equal(session.received.length, 1);
      assert.equal(session.received[0]?.message.data?.toString(), 'across the bus');
      assert.equal(session.received[0]?.message.id, live.message.id);
    });

    it('a message for a device connected nowhere resolves false: storage keeps it for the next hello', async () => {
      const { bus } = await node();
      assert.equal(await bus.deliver(newUaid(), liveMessage(newUaid())), false);
    });

    it('once the device’s session is released, its messages are left to storage', async () => {
      const { bus, registry, connect } = await node();
      const uaid = newUaid();
      const session = connect(uaid);
      registry.release(uaid, session);
      assert.equal(await bus.deliver(uaid, liveMessage(uaid)), false);
      assert.equal(session.received.length, 0);
    });

    it('a TTL=0 message reaches a connected device and resolves false for an absent one', async () => {
      const { bus, connect } = await node();
      const here = newUaid();
      const session = connect(here);
      assert.equal(await bus.deliver(here, liveMessage(here, { stored: false })), true);
      assert.equal(session.received[0]?.stored, false);
      assert.equal(await bus.deliver(newUaid(), liveMessage(newUaid(), { stored: false })), false);
    });

    it('a newer session for the same device replaces the older one, which closes 1011, and gets the messages', async () => {
      const { bus, connect } = await node();
      const uaid = newUaid();
      const first = connect(uaid);
      const second = connect(uaid);
      assert.equal(first.closedWith?.code, 1011);
      assert.equal(await bus.deliver(uaid, liveMessage(uaid)), true);
      assert.deepEqual([first.received.length, second.received.length], [0, 1]);
    });

    it('deliveries to many devices at once each reach their own session', async () => {
      const { bus, connect } = await node();
      const uaids = Array.from({ length: 50 }, () => newUaid());
      const sessions = uaids.map((uaid) => connect(uaid));
      const answers = await Promise.all(uaids.map((uaid) => bus.deliver(uaid, liveMessage(uaid, { text: uaid }))));
      assert.ok(answers.every(Boolean));
      for (const [index, session] of sessions.entries()) {
        assert.deepEqual(session.received.map((live) => live.message.data?.toString()), [uaids[index]]);
      }
    });
  });
}
