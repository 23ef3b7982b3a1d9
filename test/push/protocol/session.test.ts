/**
 * The device protocol (protocol.md §1) driven as a state machine: plain frames in, recorded frames
 * and closes out, a real in-memory SQLite store underneath. No sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateVapidKeyPair } from '../../../src/crypto/vapid.js';
import { newMessageId } from '../../../src/crypto/tokens.js';
import { PushSession, type SessionOptions } from '../../../src/push/protocol/session.js';
import { SessionRegistry } from '../../../src/push/connection/registry.js';
import { openStore } from '../../../src/store/open/open-store.js';
import type { NewMessage, Store } from '../../../src/store/types.js';

const CHANNEL_A = '5f2f3a1e-0b8c-4d4e-9a5a-1c2b3d4e5f60';
const CHANNEL_B = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

interface Frame {
  messageType?: string;
  [key: string]: unknown;
}

class World {
  clock = 1_700_000_000_000;
  readonly registry = new SessionRegistry();
  private constructor(
    readonly store: Store,
    readonly options: SessionOptions,
  ) {}

  static async create(options: Partial<SessionOptions> = {}): Promise<World> {
    const store = await openStore('sqlite::memory:');
    return new World(store, { msgLimit: 150, batchSize: 10, clientPingIntervalMs: 45_000, ...options });
  }

  connect(): Device {
    return new Device(this);
  }

  message(uaid: string, channelId: string, extra: Partial<NewMessage> = {}): NewMessage {
    const ttl = extra.ttl ?? 60;
    return {
      id: newMessageId(),
      uaid,
      channelId,
      topic: null,
      urgency: 'normal',
      ttl,
      receivedAt: this.clock,
      expiresAt: this.clock + ttl * 1000,
      data: Buffer.from('ciphertext'),
      headers: { encoding: 'aes128gcm' },
      ...extra,
    };
  }

  /** What the endpoint does: store, then hand to the live session if there is one. */
  async push(message: NewMessage): Promise<void> {
    if (message.ttl > 0) await this.store.saveMessage(message);
    this.registry.deliverLocal(message.uaid, { message, stored: message.ttl > 0 });
  }
}

class Device {
  readonly received: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly session: PushSession;

  constructor(private readonly world: World) {
    let uuid = 0;
    this.session = new PushSession(
      {
        store: world.store,
        now: () => world.clock,
        newUaid: () => newMessageId(),
        newChannelId: () => `00000000-0000-4000-8000-${String(++uuid).padStart(12, '0')}`,
        endpointFor: (uaid, channelId, keyHash) => `http://push.test/wpush/v${keyHash ? 2 : 1}/${uaid}.${channelId}`,
        claimDevice: (uaid, session) => world.registry.claim(uaid, session),
        releaseDevice: (uaid, session) => world.registry.release(uaid, session),
        broadcasts: () => ({ 'remote-settings/monitor_changes': 'v5', other: 'v1' }),
        send: (message) => this.received.push(message as Frame),
        close: (code, reason) => {
          this.closed = { code, reason };
        },
      },
      world.options,
    );
  }

  async send(frame: unknown): Promise<void> {
    await this.session.receive(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async hello(uaid?: string, extra: Record<string, unknown> = {}): Promise<string> {
    await this.send({ messageType: 'hello', use_webpush: true, ...(uaid ? { uaid } : {}), ...extra });
    const answer = this.received.find((frame) => frame.messageType === 'hello');
    assert.ok(answer, 'hello answered');
    return answer.uaid as string;
  }

  async register(channelID?: string, key?: string | null): Promise<Frame> {
    await this.send({ messageType: 'register', ...(channelID ? { channelID } : {}), ...(key !== undefined ? { key } : {}) });
    return this.last('register');
  }

  notifications(): Frame[] {
    return this.received.filter((frame) => frame.messageType === 'notification');
  }

  async ack(...frames: Frame[]): Promise<void> {
    await this.send({ messageType: 'ack', updates: frames.map((f) => ({ channelID: f.channelID, version: f.version, code: 100 })) });
  }

  last(type: string): Frame {
    const frames = this.received.filter((frame) => frame.messageType === type);
    const last = frames[frames.length - 1];
    assert.ok(last, `a ${type} frame was sent`);
    return last;
  }

  closeCode(): number | null {
    return this.closed?.code ?? null;
  }

  disconnect(): void {
    this.session.ended();
  }
}

describe('device protocol: hello', () => {
  it('a new device gets a fresh 32-hex uaid, and nothing is stored until it registers', async () => {
    const world = await World.create();
    const device = world.connect();
    const uaid = await device.hello();
    assert.match(uaid, /^[0-9a-f]{32}$/);
    assert.deepEqual(device.received[0], { messageType: 'hello', uaid, status: 200, use_webpush: true, broadcasts: {} });
    assert.equal(await world.store.getDevice(uaid), null);
  });

  it('a known device keeps its uaid; an unknown or malformed one gets a new uaid', async () => {
    const world = await World.create();
    const first = world.connect();
    const uaid = await first.hello();
    await first.register(CHANNEL_A);
    first.disconnect();

    assert.equal(await world.connect().hello(uaid), uaid);
    const unknown = 'a'.repeat(32);
    assert.notEqual(await world.connect().hello(unknown), unknown);
    const malformed = await world.connect().hello('NOT-A-UAID');
    assert.match(malformed, /^[0-9a-f]{32}$/);
  });

  it('a second hello closes the socket 1011', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello();
    await device.send({ messageType: 'hello' });
    assert.equal(device.closeCode(), 1011);
  });

  it('a first frame other than hello closes 1011', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.send({ messageType: 'register', channelID: CHANNEL_A });
    assert.equal(device.closeCode(), 1011);
  });

  it('bad JSON and an unknown messageType close 1011', async () => {
    const world = await World.create();
    const badJson = world.connect();
    await badJson.send('{"messageType": "hello"');
    assert.equal(badJson.closeCode(), 1011);

    const unknown = world.connect();
    await unknown.hello();
    await unknown.send({ messageType: 'subscribe-everything' });
    assert.equal(unknown.closeCode(), 1011);
  });

  it('broadcasts in hello are answered only where the version differs; unknown ids under errors', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello(undefined, { broadcasts: { 'remote-settings/monitor_changes': 'v4', other: 'v1', nope: 'v0' } });
    assert.deepEqual(device.last('hello').broadcasts, {
      'remote-settings/monitor_changes': 'v5',
      errors: { nope: 'Broadcast not found' },
    });
  });

  it('broadcast_subscribe answers only when something differs', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello();
    await device.send({ messageType: 'broadcast_subscribe', broadcasts: { other: 'v1' } });
    assert.equal(device.received.filter((f) => f.messageType === 'broadcast').length, 0);
    await device.send({ messageType: 'broadcast_subscribe', broadcasts: { other: 'v0' } });
    assert.deepEqual(device.last('broadcast').broadcasts, { other: 'v1' });
    device.session.broadcastsChanged({ other: 'v2', unrelated: 'x' });
    assert.deepEqual(device.last('broadcast').broadcasts, { other: 'v2' });
  });
});

describe('device protocol: register and unregister', () => {
  it('register without a key gives a v1 endpoint and records the device', async () => {
    const world = await World.create();
    const device = world.connect();
    const uaid = await device.hello();
    const answer = await device.register(CHANNEL_A);
    assert.equal(answer.status, 200);
    assert.equal(answer.channelID, CHANNEL_A);
    assert.match(answer.pushEndpoint as string, /\/wpush\/v1\//);
    assert.ok(await world.store.getDevice(uaid));
    assert.equal((await world.store.getChannel(uaid, CHANNEL_A))?.senderKeyHash, null);
  });

  it('register with a key (padded, as Firefox sends it) gives a v2 endpoint bound to that key', async () => {
    const world = await World.create();
    const device = world.connect();
    const uaid = await device.hello();
    const { publicKey } = generateVapidKeyPair();
    const padded = Buffer.from(publicKey, 'base64url').toString('base64url') + '=';
    const answer = await device.register(CHANNEL_A, padded);
    assert.equal(answer.status, 200);
    assert.match(answer.pushEndpoint as string, /\/wpush\/v2\//);
    assert.equal((await world.store.getChannel(uaid, CHANNEL_A))?.senderKeyHash?.length, 32);
  });

  it('a key that is not a P-256 point answers status 400 and the socket stays open', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello();
    const answer = await device.register(CHANNEL_A, Buffer.alloc(65, 4).toString('base64url'));
    assert.equal(answer.status, 400);
    assert.equal(device.closed, null);
    assert.equal((await device.register(CHANNEL_B)).status, 200);
  });

  it('register with a null key is a v1 registration', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello();
    assert.match((await device.register(CHANNEL_A, null)).pushEndpoint as string, /\/wpush\/v1\//);
  });

  it('an uppercase channelID closes the socket 1011', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello();
    await device.send({ messageType: 'register', channelID: CHANNEL_A.toUpperCase() });
    assert.equal(device.closeCode(), 1011);
  });

  it('register without a channelID gets a server-generated one', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello();
    const answer = await device.register();
    assert.match(answer.channelID as string, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(answer.status, 200);
  });

  it('unregister drops the channel and its messages and answers 200, even for an unknown channel', async () => {
    const world = await World.create();
    const device = world.connect();
    const uaid = await device.hello();
    await device.register(CHANNEL_A);
    await world.store.saveMessage(world.message(uaid, CHANNEL_A));
    await device.send({ messageType: 'unregister', channelID: CHANNEL_A });
    assert.deepEqual(device.last('unregister'), { messageType: 'unregister', channelID: CHANNEL_A, status: 200 });
    assert.equal(await world.store.getChannel(uaid, CHANNEL_A), null);
    assert.equal(await world.store.countMessages(uaid, world.clock), 0);
    await device.send({ messageType: 'unregister', channelID: CHANNEL_B });
    assert.equal(device.last('unregister').status, 200);
  });
});

describe('device protocol: delivery', () => {
  async function registeredDevice(world: World): Promise<{ device: Device; uaid: string }> {
    const device = world.connect();
    const uaid = await device.hello();
    await device.register(CHANNEL_A);
    await device.register(CHANNEL_B);
    return { device, uaid };
  }

  it('a live message reaches a connected device at once, and its ack deletes it', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    const message = world.message(uaid, CHANNEL_A);
    await world.push(message);
    const [notification] = device.notifications();
    assert.ok(notification);
    assert.equal(notification.version, message.id);
    assert.equal(notification.data, Buffer.from('ciphertext').toString('base64url'));
    assert.deepEqual(notification.headers, { encoding: 'aes128gcm' });
    await device.ack(notification);
    assert.equal(await world.store.countMessages(uaid, world.clock), 0);
  });

  it('a message with no body reaches the device with neither data nor headers', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    await world.push(world.message(uaid, CHANNEL_A, { data: null, headers: null }));
    const [notification] = device.notifications();
    assert.ok(notification);
    assert.equal('data' in notification, false);
    assert.equal('headers' in notification, false);
  });

  it('stored messages follow the hello answer: topic messages first, then arrival order', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    const plain1 = world.message(uaid, CHANNEL_A);
    const topical = world.message(uaid, CHANNEL_B, { topic: 'news' });
    const plain2 = world.message(uaid, CHANNEL_A);
    for (const message of [plain1, topical, plain2]) await world.push(message);

    const again = world.connect();
    await again.hello(uaid);
    assert.equal(again.received[0]?.messageType, 'hello');
    assert.deepEqual(
      again.notifications().map((n) => n.version),
      [topical.id, plain1.id, plain2.id],
    );
  });

  it('a device that never acks gets the messages again after reconnecting', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    const message = world.message(uaid, CHANNEL_A);
    await world.push(message);
    assert.equal(device.notifications().length, 1);
    device.disconnect();

    const again = world.connect();
    await again.hello(uaid);
    assert.deepEqual(again.notifications().map((n) => n.version), [message.id]);
  });

  it('multiple messages acked one by one are each deleted', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    const messages = [world.message(uaid, CHANNEL_A), world.message(uaid, CHANNEL_A), world.message(uaid, CHANNEL_B)];
    for (const message of messages) await world.push(message);
    const notifications = device.notifications();
    assert.equal(notifications.length, 3);
    for (const [index, notification] of notifications.entries()) {
      await device.ack(notification);
      assert.equal(await world.store.countMessages(uaid, world.clock), 2 - index);
    }
  });

  it('stored messages come in batches of 10; the next batch follows when all are acked', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    for (let i = 0; i < 25; i++) await world.push(world.message(uaid, CHANNEL_A));

    const again = world.connect();
    await again.hello(uaid);
    assert.equal(again.notifications().length, 10);
    const firstBatch = again.notifications();
    await again.ack(...firstBatch.slice(0, 9));
    assert.equal(again.notifications().length, 10, 'no new batch while one message is unacked');
    await again.ack(firstBatch[9] as Frame);
    assert.equal(again.notifications().length, 20);
    await again.ack(...again.notifications().slice(10));
    assert.equal(again.notifications().length, 25);
    await again.ack(...again.notifications().slice(20));
    assert.equal(await world.store.countMessages(uaid, world.clock), 0);
    assert.equal(again.closed, null);
  });

  it('a message accepted while the drain runs is delivered once, in order, by the drain', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    for (let i = 0; i < 12; i++) await world.push(world.message(uaid, CHANNEL_A));
    const again = world.connect();
    await again.hello(uaid);
    const late = world.message(uaid, CHANNEL_A);
    await world.push(late);
    assert.equal(again.notifications().length, 10, 'live message waits behind the drain');
    await again.ack(...again.notifications());
    await again.ack(...again.notifications().slice(10));
    const versions = again.notifications().map((n) => n.version);
    assert.equal(versions.length, 13);
    assert.equal(versions[12], late.id);
    assert.equal(new Set(versions).size, 13);
  });

  it('a drain past msg_limit resets the device: its record and messages are dropped, close 1000', async () => {
    const world = await World.create({ msgLimit: 5 });
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    for (let i = 0; i < 8; i++) await world.push(world.message(uaid, CHANNEL_A));
    const again = world.connect();
    await again.hello(uaid);
    assert.equal(again.notifications().length, 5);
    await again.ack(...again.notifications());
    assert.equal(again.closeCode(), 1000);
    assert.equal(await world.store.getDevice(uaid), null);
    assert.notEqual(await world.connect().hello(uaid), uaid, 'its next hello gets a new uaid');
  });

  it('a device that acks its msg_limit-th stored message and disconnects at once is still reset when more are waiting', async () => {
    const world = await World.create({ msgLimit: 5 });
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    for (let i = 0; i < 8; i++) await world.push(world.message(uaid, CHANNEL_A));
    const again = world.connect();
    await again.hello(uaid);
    // The ack and the close arrive together: the socket is gone before the ack is handled.
    const acked = again.ack(...again.notifications());
    again.disconnect();
    await acked;
    assert.equal(await world.store.getDevice(uaid), null, 'reset: the storage decision does not wait for the socket');
    assert.notEqual(await world.connect().hello(uaid), uaid, 'its next hello gets a new uaid');
  });

  it('a device whose socket closes while the drain fetches past msg_limit is still reset', async () => {
    const world = await World.create({ msgLimit: 5 });
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    for (let i = 0; i < 8; i++) await world.push(world.message(uaid, CHANNEL_A));
    const again = world.connect();
    await again.hello(uaid);
    // Close the socket the moment the drain asks storage for the next batch.
    const fetchMessages = world.store.fetchMessages.bind(world.store);
    world.store.fetchMessages = async (...args) => {
      again.disconnect();
      return fetchMessages(...args);
    };
    await again.ack(...again.notifications());
    world.store.fetchMessages = fetchMessages;
    assert.equal(await world.store.getDevice(uaid), null);
  });

  it('a drain of exactly msg_limit messages does not reset', async () => {
    const world = await World.create({ msgLimit: 5 });
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    for (let i = 0; i < 5; i++) await world.push(world.message(uaid, CHANNEL_A));
    const again = world.connect();
    await again.hello(uaid);
    await again.ack(...again.notifications());
    assert.equal(again.closed, null);
    assert.ok(await world.store.getDevice(uaid));
  });

  it('a TTL=0 message reaches a connected device and is never stored', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    await world.push(world.message(uaid, CHANNEL_A, { ttl: 0 }));
    assert.equal(device.notifications().length, 1);
    assert.equal(await world.store.countMessages(uaid, world.clock), 0);
    await device.ack(...device.notifications());
  });

  it('nack leaves the message stored for the next connection', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    await world.push(world.message(uaid, CHANNEL_A));
    const [notification] = device.notifications();
    await device.send({ messageType: 'nack', version: notification?.version, code: 302 });
    assert.equal(await world.store.countMessages(uaid, world.clock), 1);
    device.disconnect();
    const again = world.connect();
    await again.hello(uaid);
    assert.equal(again.notifications().length, 1);
  });

  it('an ack for a version this connection never sent touches nothing', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    const message = world.message(uaid, CHANNEL_A);
    await world.store.saveMessage(message);
    const stranger = world.connect();
    await stranger.hello();
    await stranger.send({ messageType: 'ack', updates: [{ channelID: CHANNEL_A, version: message.id, code: 100 }] });
    assert.equal(await world.store.countMessages(uaid, world.clock), 1);
  });

  it('a device that asked for high urgency only gets high messages; the rest stay stored', async () => {
    const world = await World.create();
    const { device, uaid } = await registeredDevice(world);
    device.disconnect();
    const low = world.message(uaid, CHANNEL_A, { urgency: 'low' });
    const high = world.message(uaid, CHANNEL_A, { urgency: 'high' });
    await world.push(low);
    await world.push(high);
    const picky = world.connect();
    await picky.hello(uaid, { urgency: 'high' });
    assert.deepEqual(picky.notifications().map((n) => n.version), [high.id]);
    await world.push(world.message(uaid, CHANNEL_B, { urgency: 'normal' }));
    assert.equal(picky.notifications().length, 1);
    assert.equal(await world.store.countMessages(uaid, world.clock), 3);
  });
});

describe('device protocol: drain edge cases', () => {
  async function backlog(world: World, counts: { a?: number; b?: number; extra?: Partial<NewMessage> }): Promise<string> {
    const device = world.connect();
    const uaid = await device.hello();
    await device.register(CHANNEL_A);
    await device.register(CHANNEL_B);
    device.disconnect();
    for (let i = 0; i < (counts.a ?? 0); i++) await world.push(world.message(uaid, CHANNEL_A, counts.extra));
    for (let i = 0; i < (counts.b ?? 0); i++) await world.push(world.message(uaid, CHANNEL_B, counts.extra));
    return uaid;
  }

  it('unregistering the channel of the whole batch in flight lets the drain go on', async () => {
    const world = await World.create();
    const uaid = await backlog(world, { a: 10, b: 3 });
    const device = world.connect();
    await device.hello(uaid);
    assert.equal(device.notifications().length, 10);
    await device.send({ messageType: 'unregister', channelID: CHANNEL_A });
    assert.deepEqual(device.notifications().slice(10).map((n) => n.channelID), [CHANNEL_B, CHANNEL_B, CHANNEL_B]);
    await device.ack(...device.notifications().slice(10));
    await world.push(world.message(uaid, CHANNEL_B));
    assert.equal(device.notifications().length, 14, 'live delivery resumes after the drain');
  });

  it('a topic message accepted after the drain reached the plain messages still arrives on this connection', async () => {
    const world = await World.create();
    const uaid = await backlog(world, { a: 12 });
    const device = world.connect();
    await device.hello(uaid);
    const topical = world.message(uaid, CHANNEL_B, { topic: 'weather' });
    await world.push(topical);
    await device.ack(...device.notifications());
    assert.equal(device.notifications()[10]?.version, topical.id, 'topic first in the next batch');
    await device.ack(...device.notifications().slice(10));
    assert.equal(device.notifications().length, 13);
    assert.equal(await world.store.countMessages(uaid, world.clock), 0);
  });

  it('messages below the urgency floor neither arrive nor count towards msg_limit', async () => {
    const world = await World.create({ msgLimit: 5 });
    const uaid = await backlog(world, { a: 8, extra: { urgency: 'low' } });
    const high = world.message(uaid, CHANNEL_B, { urgency: 'high' });
    await world.push(high);
    const device = world.connect();
    await device.hello(uaid, { urgency: 'high' });
    assert.deepEqual(device.notifications().map((n) => n.version), [high.id]);
    await device.ack(...device.notifications());
    assert.equal(device.closeCode(), null, 'not reset');
    assert.equal(await world.store.countMessages(uaid, world.clock), 8);
  });

  it('a TTL=0 message accepted mid-drain waits behind the older stored messages', async () => {
    const world = await World.create();
    const uaid = await backlog(world, { a: 12 });
    const device = world.connect();
    await device.hello(uaid);
    const transient = world.message(uaid, CHANNEL_A, { ttl: 0 });
    await world.push(transient);
    assert.equal(device.notifications().length, 10);
    await device.ack(...device.notifications());
    await device.ack(...device.notifications().slice(10));
    assert.equal(device.notifications().length, 13);
    assert.equal(device.notifications()[12]?.version, transient.id);
  });

  it('a device that stays connected is kept fresh for the idle sweep', async () => {
    const world = await World.create();
    const device = world.connect();
    const uaid = await device.hello();
    await device.register(CHANNEL_A);
    const registeredAt = (await world.store.getDevice(uaid))?.lastSeenAt;
    world.clock += 2 * 86_400_000;
    await device.session.keepAlive();
    const seen = (await world.store.getDevice(uaid))?.lastSeenAt;
    assert.equal(seen, world.clock);
    assert.notEqual(seen, registeredAt);
  });

  it('broadcast ids that are Object.prototype names are unknown, not subscribed', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello(undefined, { broadcasts: { toString: '1', constructor: 'x' } });
    assert.deepEqual(device.last('hello').broadcasts, { errors: { toString: 'Broadcast not found', constructor: 'Broadcast not found' } });
  });
});

describe('device protocol: pings and replacement', () => {
  it('a client ping is answered with {} once per interval; a faster one closes 1011', async () => {
    const world = await World.create();
    const device = world.connect();
    await device.hello();
    await device.send({});
    assert.deepEqual(device.received[device.received.length - 1], {});
    world.clock += 45_000;
    await device.send({ messageType: 'ping' });
    assert.deepEqual(device.received[device.received.length - 1], {});
    assert.equal(device.closed, null);
    world.clock += 10_000;
    await device.send({});
    assert.equal(device.closeCode(), 1011);
  });

  it('a second connection for the same uaid replaces the first (closed 1011)', async () => {
    const world = await World.create();
    const first = world.connect();
    const uaid = await first.hello();
    await first.register(CHANNEL_A);
    const second = world.connect();
    await second.hello(uaid);
    assert.equal(first.closeCode(), 1011);
    await world.push(world.message(uaid, CHANNEL_A));
    assert.equal(second.notifications().length, 1);
    assert.equal(first.notifications().length, 0);
  });
});
