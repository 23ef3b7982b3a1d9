/**
 * "Storage has something for you": a message stored while its hand-off failed (the bus was down)
 * reaches a device that stayed connected when its session is told to look again, through the
 * registry as the bus tells it. Plain frames on a real in-memory SQLite store; no sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newMessageId } from '../../../src/crypto/tokens.js';
import { SessionRegistry } from '../../../src/push/connection/registry.js';
import { PushSession } from '../../../src/push/protocol/session.js';
import { openStore } from '../../../src/store/open/open-store.js';
import type { NewMessage, Store } from '../../../src/store/types.js';
import { waitFor } from '../../helpers/wait.js';

const CHANNEL = '5f2f3a1e-0b8c-4d4e-9a5a-1c2b3d4e5f60';

interface Frame {
  messageType?: string;
  [key: string]: unknown;
}

async function connectedDevice(store: Store, registry: SessionRegistry, msgLimit = 150) {
  const frames: Frame[] = [];
  let closed: number | null = null;
  const session = new PushSession(
    {
      store,
      now: Date.now,
      newUaid: () => newMessageId(),
      newChannelId: () => CHANNEL,
      endpointFor: (uaid, channelId) => `http://push.test/wpush/v1/${uaid}.${channelId}`,
      claimDevice: (uaid, s) => registry.claim(uaid, s),
      releaseDevice: (uaid, s) => registry.release(uaid, s),
      broadcasts: () => ({}),
      send: (message) => frames.push(message as Frame),
      close: (code) => {
        closed = code;
      },
    },
    { msgLimit, batchSize: 10, clientPingIntervalMs: 45_000 },
  );
  await session.receive(JSON.stringify({ messageType: 'hello', use_webpush: true }));
  await session.receive(JSON.stringify({ messageType: 'register', channelID: CHANNEL }));
  const uaid = session.uaid as string;
  const notifications = () => frames.filter((frame) => frame.messageType === 'notification');
  const ack = (frame: Frame) => session.receive(JSON.stringify({ messageType: 'ack', updates: [{ channelID: CHANNEL, version: frame.version, code: 100 }] }));
  return { session, uaid, notifications, ack, closedWith: () => closed };
}

function message(uaid: string): NewMessage {
  const now = Date.now();
  return { id: newMessageId(), uaid, channelId: CHANNEL, topic: null, urgency: 'normal', ttl: 60, receivedAt: now, expiresAt: now + 60_000, data: null, headers: null };
}

describe('a connected device told that storage has something for it', () => {
  it('gets a message whose hand-off failed, once, and its ack deletes it', async () => {
    const store = await openStore('sqlite::memory:');
    const registry = new SessionRegistry();
    const device = await connectedDevice(store, registry);
    // Stored, but the bus never brought it: the device does not see it by itself.
    const missed = message(device.uaid);
    await store.saveMessage(missed);
    assert.equal(device.notifications().length, 0);

    assert.equal(registry.recheck(device.uaid), true, 'the registry holds a session for it');
    await waitFor(() => device.notifications().length === 1, 2000, 'the missed message');
    assert.equal(device.notifications()[0]?.version, missed.id);
    await device.ack(device.notifications()[0] as Frame);
    assert.equal(await store.countMessages(device.uaid, Date.now()), 0, 'the ack deleted it');

    // Looking again finds nothing more: nothing is sent twice.
    assert.equal(await device.session.recheckStorage(), true);
    assert.equal(device.notifications().length, 1);
    assert.equal(device.closedWith(), null);
    await store.close();
  });

  it('a message delivered live and not acked yet is not sent again by a recheck', async () => {
    const store = await openStore('sqlite::memory:');
    const registry = new SessionRegistry();
    const device = await connectedDevice(store, registry);
    const live = message(device.uaid);
    await store.saveMessage(live);
    registry.deliverLocal(device.uaid, { message: live, stored: true });
    const missed = message(device.uaid);
    await store.saveMessage(missed);

    assert.equal(await device.session.recheckStorage(), true);
    assert.deepEqual(
      device.notifications().map((frame) => frame.version),
      [live.id, missed.id],
    );
    await store.close();
  });

  it('after the bus is back, every session of the node looks again, and many rechecks never reset a device', async () => {
    const store = await openStore('sqlite::memory:');
    const registry = new SessionRegistry();
    const devices = await Promise.all(Array.from({ length: 40 }, () => connectedDevice(store, registry, 3)));
    // More outages over the connection's life than msg_limit: each recheck is a drain of its own.
    for (let round = 1; round <= 5; round++) {
      for (const device of devices) await store.saveMessage(message(device.uaid));
      registry.recheckAll();
      await waitFor(() => devices.every((device) => device.notifications().length === round), 5000, `round ${round} of rechecks`);
      for (const device of devices) await device.ack(device.notifications()[round - 1] as Frame);
    }
    assert.ok(devices.every((device) => device.closedWith() === null), 'no device was reset or closed');
    await store.close();
  });

  it('storage failing during a recheck keeps the socket open, and the registry asks again', async () => {
    const store = await openStore('sqlite::memory:');
    const registry = new SessionRegistry();
    const device = await connectedDevice(store, registry);
    await store.saveMessage(message(device.uaid));
    const fetchMessages = store.fetchMessages.bind(store);
    let failures = 1;
    store.fetchMessages = async (...args) => {
      if (failures-- > 0) throw new Error('storage is down');
      return fetchMessages(...args);
    };

    assert.equal(await device.session.recheckStorage(), false, 'storage failed');
    assert.equal(device.closedWith(), null, 'the socket stays open');
    failures = 1;
    registry.recheck(device.uaid);
    // The first try fails; the registry tries again a second later.
    await waitFor(() => device.notifications().length === 1, 3000, 'the retried recheck');
    assert.equal(device.closedWith(), null);
    await store.close();
  });
});
