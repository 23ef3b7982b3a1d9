/**
 * The expectations every Store backend meets, written only against the Store interface.
 * A backend is done when this suite passes on it:
 *
 *   runStoreConformance('sqlite in memory', () => openStore('sqlite::memory:'));
 *
 * `makeStore` returns a fresh, migrated, empty store for each test. `dispose` (default: close)
 * must tolerate a store that the test has already closed.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { cursorAfter } from '../../src/store/cursor.js';
import { certificateScenarios } from './conformance-certificates.js';
import { SubscriptionMissingError, type ChannelRecord, type DrainCursor, type NewMessage, type Store, type StoredMessage } from '../../src/store/types.js';

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export function newUaid(): string {
  return randomBytes(16).toString('hex');
}

export function newMessageId(): string {
  return randomBytes(16).toString('hex');
}

/** A device with one v1 channel, as a first `register` leaves it. */
export async function registerDevice(
  store: Store,
  now = T0,
  uaid = newUaid(),
): Promise<{ uaid: string; channelId: string }> {
  const channelId = randomUUID();
  await store.upsertDevice(uaid, now);
  await store.putChannel({ uaid, channelId, senderKeyHash: null, createdAt: now });
  return { uaid, channelId };
}

/** An aes128gcm message with a 1 h TTL received at T0, unless told otherwise. */
export function message(uaid: string, channelId: string, fields: Partial<NewMessage> = {}): NewMessage {
  const receivedAt = fields.receivedAt ?? T0;
  const ttl = fields.ttl ?? 3600;
  return {
    id: newMessageId(),
    uaid,
    channelId,
    topic: null,
    urgency: 'normal',
    ttl,
    receivedAt,
    expiresAt: receivedAt + ttl * 1000,
    data: randomBytes(64),
    headers: { encoding: 'aes128gcm' },
    ...fields,
  };
}

function ids(messages: readonly StoredMessage[]): string[] {
  return messages.map((m) => m.id);
}

function cursorOf(page: readonly StoredMessage[], previous?: DrainCursor): DrainCursor {
  assert.ok(page.length > 0, 'the page was empty');
  return cursorAfter(previous, page);
}

export function runStoreConformance(
  name: string,
  makeStore: () => Promise<Store>,
  dispose: (store: Store) => Promise<void> = (store) => store.close(),
): void {
  function scenario(title: string, body: (store: Store) => Promise<void>): void {
    test(title, async () => {
      const store = await makeStore();
      try {
        await body(store);
      } finally {
        await dispose(store);
      }
    });
  }

  describe(`Store conformance: ${name}`, () => {
    describe('lifecycle', () => {
      scenario('an open store answers ping', async (store) => {
        await store.ping();
      });

      scenario('ping fails once the store is closed', async (store) => {
        await store.close();
        await assert.rejects(store.ping());
      });

      scenario('migrate twice is harmless and keeps the data', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const saved = message(uaid, channelId);
        await store.saveMessage(saved);
        await store.migrate();
        await store.migrate();
        assert.equal((await store.getMessage(uaid, saved.id, T0))?.id, saved.id);
        assert.equal(await store.countChannels(uaid), 1);
      });
    });

    describe('devices', () => {
      scenario('an unknown device reads as null', async (store) => {
        assert.equal(await store.getDevice(newUaid()), null);
      });

      scenario('a device registered for the first time has both times set', async (store) => {
        const uaid = newUaid();
        await store.upsertDevice(uaid, T0);
        assert.deepEqual(await store.getDevice(uaid), { uaid, createdAt: T0, lastSeenAt: T0 });
      });

      scenario('registering again moves lastSeenAt and keeps createdAt', async (store) => {
        const uaid = newUaid();
        await store.upsertDevice(uaid, T0);
        await store.upsertDevice(uaid, T0 + DAY);
        assert.deepEqual(await store.getDevice(uaid), { uaid, createdAt: T0, lastSeenAt: T0 + DAY });
      });

      scenario('a hello from a known device moves lastSeenAt', async (store) => {
        const uaid = newUaid();
        await store.upsertDevice(uaid, T0);
        assert.equal(await store.touchDevice(uaid, T0 + MINUTE), true);
        assert.deepEqual(await store.getDevice(uaid), { uaid, createdAt: T0, lastSeenAt: T0 + MINUTE });
      });

      scenario('touchDevice on a missing device returns false and creates nothing', async (store) => {
        const uaid = newUaid();
        assert.equal(await store.touchDevice(uaid, T0), false);
        assert.equal(await store.getDevice(uaid), null);
      });

      scenario('dropping a device drops its channels and messages', async (store) => {
        const gone = await registerDevice(store);
        const secondChannel = randomUUID();
        await store.putChannel({ uaid: gone.uaid, channelId: secondChannel, senderKeyHash: null, createdAt: T0 });
        const goneMessage = message(gone.uaid, gone.channelId);
        await store.saveMessage(goneMessage);
        await store.saveMessage(message(gone.uaid, secondChannel, { topic: 'news' }));
        const kept = await registerDevice(store);
        const keptMessage = message(kept.uaid, kept.channelId);
        await store.saveMessage(keptMessage);

        assert.equal(await store.dropDevice(gone.uaid), true);

        assert.equal(await store.getDevice(gone.uaid), null);
        assert.equal(await store.getChannel(gone.uaid, gone.channelId), null);
        assert.equal(await store.countChannels(gone.uaid), 0);
        assert.equal(await store.countMessages(gone.uaid, T0), 0);
        assert.deepEqual(await store.fetchMessages(gone.uaid, { limit: 10, now: T0 }), []);
        assert.equal(await store.getMessage(gone.uaid, goneMessage.id, T0), null);
        // The other device is untouched.
        assert.deepEqual(ids(await store.fetchMessages(kept.uaid, { limit: 10, now: T0 })), [keptMessage.id]);
        assert.equal(await store.countChannels(kept.uaid), 1);
      });

      scenario('dropping a device that does not exist returns false', async (store) => {
        const { uaid } = await registerDevice(store);
        assert.equal(await store.dropDevice(uaid), true);
        assert.equal(await store.dropDevice(uaid), false);
        assert.equal(await store.dropDevice(newUaid()), false);
      });

      scenario('a dropped device can register again from scratch', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        await store.saveMessage(message(uaid, channelId));
        await store.dropDevice(uaid);
        await store.upsertDevice(uaid, T0 + DAY);
        assert.deepEqual(await store.getDevice(uaid), { uaid, createdAt: T0 + DAY, lastSeenAt: T0 + DAY });
        assert.equal(await store.countChannels(uaid), 0);
        assert.equal(await store.countMessages(uaid, T0), 0);
      });
    });

    describe('channels', () => {
      scenario('an unknown channel reads as null', async (store) => {
        const { uaid } = await registerDevice(store);
        assert.equal(await store.getChannel(uaid, randomUUID()), null);
        assert.equal(await store.getChannel(newUaid(), randomUUID()), null);
      });

      scenario('a v1 channel reads back with no sender key', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        assert.deepEqual(await store.getChannel(uaid, channelId), { uaid, channelId, senderKeyHash: null, createdAt: T0 });
      });

      scenario('senderKeyHash and payload bytes round-trip exactly', async (store) => {
        const uaid = newUaid();
        await store.upsertDevice(uaid, T0);
        // Leading zero, 0xff, and every byte in between somewhere.
        const senderKeyHash = Buffer.concat([Buffer.from([0x00, 0xff, 0x80, 0x00]), randomBytes(28)]);
        const channel: ChannelRecord = { uaid, channelId: randomUUID(), senderKeyHash, createdAt: T0 };
        await store.putChannel(channel);
        const read = await store.getChannel(uaid, channel.channelId);
        assert.ok(read?.senderKeyHash);
        assert.ok(Buffer.isBuffer(read.senderKeyHash));
        assert.equal(read.senderKeyHash.toString('hex'), senderKeyHash.toString('hex'));

        const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096 - 256)]);
        const saved = message(uaid, channel.channelId, { data });
        await store.saveMessage(saved);
        const stored = await store.getMessage(uaid, saved.id, T0);
        assert.ok(stored?.data && Buffer.isBuffer(stored.data));
        assert.equal(stored.data.length, 4096);
        assert.ok(stored.data.equals(data));
        const [fetched] = await store.fetchMessages(uaid, { limit: 1, now: T0 });
        assert.ok(fetched?.data?.equals(data));
      });

      scenario('re-registering a channel with another sender key replaces the key', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const first = randomBytes(32);
        const second = randomBytes(32);
        await store.putChannel({ uaid, channelId, senderKeyHash: first, createdAt: T0 + 1 });
        assert.ok((await store.getChannel(uaid, channelId))?.senderKeyHash?.equals(first));
        await store.putChannel({ uaid, channelId, senderKeyHash: second, createdAt: T0 + 2 });
        const read = await store.getChannel(uaid, channelId);
        assert.ok(read);
        assert.ok(read.senderKeyHash?.equals(second));
        assert.equal(read.createdAt, T0 + 2);
        // Back to an open (v1) channel.
        await store.putChannel({ uaid, channelId, senderKeyHash: null, createdAt: T0 + 3 });
        assert.equal((await store.getChannel(uaid, channelId))?.senderKeyHash, null);
        assert.equal(await store.countChannels(uaid), 1);
      });

      scenario('channels are counted per device', async (store) => {
        const a = await registerDevice(store);
        const b = await registerDevice(store);
        for (let i = 0; i < 4; i++) {
          await store.putChannel({ uaid: a.uaid, channelId: randomUUID(), senderKeyHash: null, createdAt: T0 });
        }
        assert.equal(await store.countChannels(a.uaid), 5);
        assert.equal(await store.countChannels(b.uaid), 1);
        assert.equal(await store.countChannels(newUaid()), 0);
      });

      scenario('channels are counted per sender key, across devices, until unregistered or dropped', async (store) => {
        const appA = randomBytes(32);
        const appB = randomBytes(32);
        const phone = await registerDevice(store);
        const laptop = await registerDevice(store);
        const boundTo = async (uaid: string, senderKeyHash: Buffer) => {
          const channelId = randomUUID();
          await store.putChannel({ uaid, channelId, senderKeyHash, createdAt: T0 });
          return channelId;
        };
        const phoneA = await boundTo(phone.uaid, appA);
        await boundTo(phone.uaid, appA);
        await boundTo(laptop.uaid, appA);
        await boundTo(laptop.uaid, appB);
        // registerDevice left an unbound (v1) channel on each device: counted for no key.
        assert.equal(await store.countChannelsBySenderKey(appA), 3);
        assert.equal(await store.countChannelsBySenderKey(appB), 1);
        assert.equal(await store.countChannelsBySenderKey(randomBytes(32)), 0);

        assert.equal(await store.deleteChannel(phone.uaid, phoneA), true);
        assert.equal(await store.countChannelsBySenderKey(appA), 2);

        assert.equal(await store.dropDevice(laptop.uaid), true);
        assert.equal(await store.countChannelsBySenderKey(appA), 1);
        assert.equal(await store.countChannelsBySenderKey(appB), 0);
      });

      scenario('unregistering a channel drops its pending messages', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const otherChannel = randomUUID();
        await store.putChannel({ uaid, channelId: otherChannel, senderKeyHash: null, createdAt: T0 });
        const dropped = message(uaid, channelId);
        await store.saveMessage(dropped);
        await store.saveMessage(message(uaid, channelId, { topic: 'score' }));
        const kept = message(uaid, otherChannel);
        await store.saveMessage(kept);

        assert.equal(await store.deleteChannel(uaid, channelId), true);

        assert.equal(await store.getChannel(uaid, channelId), null);
        assert.equal(await store.getMessage(uaid, dropped.id, T0), null);
        assert.deepEqual(ids(await store.fetchMessages(uaid, { limit: 10, now: T0 })), [kept.id]);
        assert.equal(await store.countChannels(uaid), 1);
        assert.ok(await store.getDevice(uaid), 'the device stays');
      });

      scenario('unregistering a channel that does not exist returns false', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        assert.equal(await store.deleteChannel(uaid, channelId), true);
        assert.equal(await store.deleteChannel(uaid, channelId), false);
        assert.equal(await store.deleteChannel(newUaid(), randomUUID()), false);
      });

      scenario('a channel of one device cannot be unregistered through another uaid', async (store) => {
        const owner = await registerDevice(store);
        const other = await registerDevice(store);
        assert.equal(await store.deleteChannel(other.uaid, owner.channelId), false);
        assert.ok(await store.getChannel(owner.uaid, owner.channelId));
        assert.equal(await store.getChannel(other.uaid, owner.channelId), null);
      });
    });

    describe('messages', () => {
      scenario('a saved message reads back field for field', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const saved = message(uaid, channelId, {
          topic: 'Weather_2-day',
          urgency: 'high',
          ttl: 120,
          receivedAt: T0 + 5,
          expiresAt: T0 + 5 + 120_000,
          headers: { encoding: 'aesgcm', encryption: 'salt=abc', crypto_key: 'dh=xyz' },
        });
        await store.saveMessage(saved);
        const stored = await store.getMessage(uaid, saved.id, T0 + 5);
        assert.ok(stored);
        assert.equal(typeof stored.seq, 'number');
        assert.ok(Number.isSafeInteger(stored.seq));
        const { seq: _seq, ...fields } = stored;
        assert.deepEqual(fields, saved);
        const fetched = await store.fetchMessages(uaid, { limit: 10, now: T0 + 5 });
        assert.deepEqual(fetched, [stored]);
      });

      scenario('every urgency is kept', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        for (const urgency of ['very-low', 'low', 'normal', 'high'] as const) {
          await store.saveMessage(message(uaid, channelId, { urgency }));
        }
        const fetched = await store.fetchMessages(uaid, { limit: 10, now: T0 });
        assert.deepEqual(
          fetched.map((m) => m.urgency),
          ['very-low', 'low', 'normal', 'high'],
        );
      });

      scenario('headers null for an empty body', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const empty = message(uaid, channelId, { data: null, headers: null });
        await store.saveMessage(empty);
        const stored = await store.getMessage(uaid, empty.id, T0);
        assert.ok(stored);
        assert.equal(stored.data, null);
        assert.equal(stored.headers, null);
      });

      scenario('headers round-trip with exactly the fields that were given', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const aes128gcm = message(uaid, channelId, { headers: { encoding: 'aes128gcm' } });
        const aesgcm = message(uaid, channelId, { headers: { encoding: 'aesgcm', encryption: 'salt=s1' } });
        await store.saveMessage(aes128gcm);
        await store.saveMessage(aesgcm);
        assert.deepEqual((await store.getMessage(uaid, aes128gcm.id, T0))?.headers, { encoding: 'aes128gcm' });
        assert.deepEqual((await store.getMessage(uaid, aesgcm.id, T0))?.headers, { encoding: 'aesgcm', encryption: 'salt=s1' });
      });

      scenario('a newer message with the same topic replaces the pending one', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const older = message(uaid, channelId, { topic: 'score', data: Buffer.from('1-0') });
        const newer = message(uaid, channelId, { topic: 'score', data: Buffer.from('2-0'), receivedAt: T0 + 1 });
        await store.saveMessage(older);
        await store.saveMessage(newer);
        assert.equal(await store.getMessage(uaid, older.id, T0), null);
        const fetched = await store.fetchMessages(uaid, { limit: 10, now: T0 });
        assert.deepEqual(ids(fetched), [newer.id]);
        assert.equal(fetched[0]?.data?.toString(), '2-0');
        assert.equal(await store.countMessages(uaid, T0), 1);
      });

      scenario('a device backlog counts its pending messages and payload bytes, not expired ones or empty bodies', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const other = await registerDevice(store);
        assert.deepEqual(await store.deviceBacklog(uaid, T0), { messages: 0, bytes: 0 });
        // No forwarded headers here, so the bytes are the bodies' alone (the next scenario adds them).
        await store.saveMessage(message(uaid, channelId, { data: randomBytes(100), headers: null }));
        await store.saveMessage(message(uaid, channelId, { data: randomBytes(30), headers: null }));
        await store.saveMessage(message(uaid, channelId, { data: null, headers: null }));
        await store.saveMessage(message(uaid, channelId, { data: randomBytes(50), headers: null, ttl: 1 }));
        await store.saveMessage(message(other.uaid, other.channelId, { data: randomBytes(999), headers: null }));
        assert.deepEqual(await store.deviceBacklog(uaid, T0), { messages: 4, bytes: 180 });
        // The short-lived one has expired 2 s later: it no longer counts.
        assert.deepEqual(await store.deviceBacklog(uaid, T0 + 2000), { messages: 3, bytes: 130 });
      });

      scenario('stats count devices, channels, pending and expired messages, and the largest backlog, on an empty store too', async (store) => {
        const empty = await store.stats(T0);
        assert.deepEqual(empty, { devices: 0, channels: 0, devicesWithBacklog: 0, largestBacklog: 0, pendingMessages: 0, pendingBytes: 0, expiredMessages: 0, oldestPendingAt: null });
        const a = await registerDevice(store);
        const b = await registerDevice(store);
        await registerDevice(store);
        await store.saveMessage(message(a.uaid, a.channelId, { data: randomBytes(10), headers: null, receivedAt: T0 - 5000 }));
        await store.saveMessage(message(a.uaid, a.channelId, { data: randomBytes(20), headers: null }));
        await store.saveMessage(message(b.uaid, b.channelId, { data: null, headers: null }));
        await store.saveMessage(message(b.uaid, b.channelId, { data: randomBytes(40), headers: null, ttl: 1 }));
        assert.deepEqual(await store.stats(T0 + 2000), {
          devices: 3,
          channels: 3,
          devicesWithBacklog: 2,
          largestBacklog: 2,
          pendingMessages: 3,
          pendingBytes: 30,
          expiredMessages: 1,
          oldestPendingAt: T0 - 5000,
        });
      });

      scenario('the forwarded headers kept with a message count toward its backlog bytes', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const headers = { encoding: 'aesgcm', encryption: `salt=${'s'.repeat(22)}`, crypto_key: `dh=${'k'.repeat(1000)}` } as const;
        await store.saveMessage(message(uaid, channelId, { data: randomBytes(16), headers }));
        const { bytes } = await store.deviceBacklog(uaid, T0);
        // As the store keeps them (JSON text; PostgreSQL's jsonb spaces it a little differently).
        const json = Buffer.byteLength(JSON.stringify(headers));
        assert.ok(bytes >= 16 + json && bytes <= 16 + json + 16, `${bytes} bytes for 16 of body and ${json} of headers`);
      });

      scenario('a topic replaces only on its own channel and only the same topic', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const otherChannel = randomUUID();
        await store.putChannel({ uaid, channelId: otherChannel, senderKeyHash: null, createdAt: T0 });
        const other = await registerDevice(store);

        const sameTopicOtherChannel = message(uaid, otherChannel, { topic: 'score' });
        const otherTopic = message(uaid, channelId, { topic: 'weather' });
        const untopicked = message(uaid, channelId);
        const sameTopicOtherDevice = message(other.uaid, other.channelId, { topic: 'score' });
        for (const m of [sameTopicOtherChannel, otherTopic, untopicked, sameTopicOtherDevice]) await store.saveMessage(m);

        const replacing = message(uaid, channelId, { topic: 'score' });
        await store.saveMessage(replacing);
        const anotherUntopicked = message(uaid, channelId);
        await store.saveMessage(anotherUntopicked);

        assert.equal(await store.countMessages(uaid, T0), 5);
        assert.ok(await store.getMessage(uaid, sameTopicOtherChannel.id, T0));
        assert.ok(await store.getMessage(uaid, otherTopic.id, T0));
        assert.ok(await store.getMessage(uaid, untopicked.id, T0));
        assert.ok(await store.getMessage(other.uaid, sameTopicOtherDevice.id, T0));
      });

      scenario('messages are fetched topic-first then in arrival order, in pages that resume after the cursor', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const second = randomUUID();
        await store.putChannel({ uaid, channelId: second, senderKeyHash: null, createdAt: T0 });
        const saved: NewMessage[] = [];
        for (let i = 0; i < 12; i++) {
          const m = message(uaid, i % 2 === 0 ? channelId : second, {
            topic: i % 3 === 0 ? `t${i}` : null,
            receivedAt: T0 + i,
          });
          saved.push(m);
          await store.saveMessage(m);
        }
        const expected = [...saved.filter((m) => m.topic !== null), ...saved.filter((m) => m.topic === null)].map((m) => m.id);

        const seen: StoredMessage[] = [];
        let page = await store.fetchMessages(uaid, { limit: 5, now: T0 });
        let cursor: DrainCursor | undefined;
        while (page.length > 0) {
          assert.ok(page.length <= 5);
          seen.push(...page);
          cursor = cursorOf(page, cursor);
          page = await store.fetchMessages(uaid, { after: cursor, limit: 5, now: T0 });
        }
        assert.deepEqual(ids(seen), expected);
        // seq grows with arrival within each group.
        const topicless = seen.filter((m) => m.topic === null).map((m) => m.seq);
        assert.deepEqual(topicless, [...topicless].sort((a, b) => a - b));
        // One page of everything reads the same.
        assert.deepEqual(ids(await store.fetchMessages(uaid, { limit: 100, now: T0 })), expected);
      });

      scenario('a cursor inside the topic group still reaches the messages without a topic', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const plainFirst = message(uaid, channelId);
        const topicLater = message(uaid, channelId, { topic: 'later' });
        await store.saveMessage(plainFirst);
        await store.saveMessage(topicLater);
        const [first] = await store.fetchMessages(uaid, { limit: 1, now: T0 });
        assert.equal(first?.id, topicLater.id);
        const rest = await store.fetchMessages(uaid, { after: cursorOf([first as StoredMessage]), limit: 10, now: T0 });
        assert.deepEqual(ids(rest), [plainFirst.id]);
      });

      scenario('a message without a topic saved during a drain comes after the cursor', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        await store.saveMessage(message(uaid, channelId));
        const page = await store.fetchMessages(uaid, { limit: 10, now: T0 });
        const arriving = message(uaid, channelId);
        await store.saveMessage(arriving);
        assert.deepEqual(ids(await store.fetchMessages(uaid, { after: cursorOf(page), limit: 10, now: T0 })), [arriving.id]);
      });

      scenario('a topic message saved after the drain reached the topicless group is fetched next', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const early = message(uaid, channelId, { topic: 'early' });
        const plain = [message(uaid, channelId), message(uaid, channelId), message(uaid, channelId)];
        for (const m of [early, ...plain]) await store.saveMessage(m);
        const page = await store.fetchMessages(uaid, { limit: 2, now: T0 });
        assert.deepEqual(ids(page), [early.id, plain[0]?.id]);
        const lateTopic = message(uaid, channelId, { topic: 'late' });
        await store.saveMessage(lateTopic);
        const next = await store.fetchMessages(uaid, { after: cursorOf(page), limit: 10, now: T0 });
        assert.deepEqual(ids(next), [lateTopic.id, plain[1]?.id, plain[2]?.id]);
      });

      scenario('saving for a channel that does not exist throws SubscriptionMissingError', async (store) => {
        const { uaid } = await registerDevice(store);
        await assert.rejects(store.saveMessage(message(uaid, randomUUID())), SubscriptionMissingError);
      });

      scenario('seq keeps growing after the newest message is acked', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const first = message(uaid, channelId);
        await store.saveMessage(first);
        const [stored] = await store.fetchMessages(uaid, { limit: 1, now: T0 });
        assert.ok(stored);
        await store.deleteMessage(uaid, first.id);
        const second = message(uaid, channelId);
        await store.saveMessage(second);
        // A drain whose cursor sits on the acked message must still see the new one.
        const after = await store.fetchMessages(uaid, { after: cursorOf([stored]), limit: 10, now: T0 });
        assert.deepEqual(ids(after), [second.id]);
        assert.ok((after[0]?.seq ?? 0) > stored.seq);
      });

      scenario('a page is never longer than the limit', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        for (let i = 0; i < 7; i++) await store.saveMessage(message(uaid, channelId));
        assert.equal((await store.fetchMessages(uaid, { limit: 3, now: T0 })).length, 3);
        assert.equal((await store.fetchMessages(uaid, { limit: 1, now: T0 })).length, 1);
        assert.equal((await store.fetchMessages(uaid, { limit: 50, now: T0 })).length, 7);
      });

      scenario('a device with nothing pending gets an empty page', async (store) => {
        const { uaid } = await registerDevice(store);
        assert.deepEqual(await store.fetchMessages(uaid, { limit: 10, now: T0 }), []);
        assert.deepEqual(await store.fetchMessages(newUaid(), { limit: 10, now: T0 }), []);
      });

      scenario('a device fetches only its own messages', async (store) => {
        const a = await registerDevice(store);
        const b = await registerDevice(store);
        const forA = message(a.uaid, a.channelId);
        const forB = message(b.uaid, b.channelId, { topic: 'x' });
        await store.saveMessage(forA);
        await store.saveMessage(forB);
        assert.deepEqual(ids(await store.fetchMessages(a.uaid, { limit: 10, now: T0 })), [forA.id]);
        assert.deepEqual(ids(await store.fetchMessages(b.uaid, { limit: 10, now: T0 })), [forB.id]);
        assert.equal(await store.getMessage(a.uaid, forB.id, T0), null);
      });

      scenario('expired messages are not fetched and are swept', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const short = message(uaid, channelId, { ttl: 60 }); // expires at T0 + 60 s
        const long = message(uaid, channelId, { ttl: 3600, topic: 'later' });
        await store.saveMessage(short);
        await store.saveMessage(long);
        const justBefore = T0 + 60_000 - 1;
        const atExpiry = T0 + 60_000;

        assert.equal(await store.countMessages(uaid, justBefore), 2);
        assert.ok(await store.getMessage(uaid, short.id, justBefore));
        // expiresAt <= now is expired: the boundary itself is out.
        assert.deepEqual(ids(await store.fetchMessages(uaid, { limit: 10, now: atExpiry })), [long.id]);
        assert.equal(await store.getMessage(uaid, short.id, atExpiry), null);
        assert.equal(await store.countMessages(uaid, atExpiry), 1);

        assert.equal((await store.sweepExpiredMessages(atExpiry)).deleted, 1);
        // Gone for good, even when asked about an earlier moment.
        assert.equal(await store.getMessage(uaid, short.id, T0), null);
        assert.deepEqual(ids(await store.fetchMessages(uaid, { limit: 10, now: T0 })), [long.id]);
        assert.deepEqual(await store.sweepExpiredMessages(atExpiry), { deleted: 0, bySenderKey: [] });
      });

      scenario('the expiry sweep spans all devices and counts what it removed, per sender key of key-bound channels', async (store) => {
        const a = await registerDevice(store);
        const b = await registerDevice(store);
        const appKey = randomBytes(32);
        const otherKey = randomBytes(32);
        // b's channel is bound to an app's key (v2); a second device of another app; a's channel is v1.
        await store.putChannel({ uaid: b.uaid, channelId: b.channelId, senderKeyHash: appKey, createdAt: T0 });
        const c = await registerDevice(store);
        await store.putChannel({ uaid: c.uaid, channelId: c.channelId, senderKeyHash: otherKey, createdAt: T0 });
        await store.saveMessage(message(a.uaid, a.channelId, { ttl: 10 }));
        await store.saveMessage(message(a.uaid, a.channelId, { ttl: 20 }));
        await store.saveMessage(message(b.uaid, b.channelId, { ttl: 10, topic: 'x' }));
        await store.saveMessage(message(b.uaid, b.channelId, { ttl: 15 }));
        await store.saveMessage(message(b.uaid, b.channelId, { ttl: 3600 }));
        await store.saveMessage(message(c.uaid, c.channelId, { ttl: 20 }));
        assert.deepEqual(await store.sweepExpiredMessages(T0), { deleted: 0, bySenderKey: [] });
        const swept = await store.sweepExpiredMessages(T0 + 20_000);
        assert.equal(swept.deleted, 5, 'v1 channels count in the total');
        const byKey = new Map(swept.bySenderKey.map(({ keyHash, count }) => [keyHash.toString('hex'), count]));
        assert.deepEqual(Object.fromEntries(byKey), { [appKey.toString('hex')]: 2, [otherKey.toString('hex')]: 1 }, 'only key-bound channels, each under its key');
        assert.deepEqual(await store.sweepExpiredMessages(T0 + 20_000), { deleted: 0, bySenderKey: [] }, 'counted once');
        assert.equal(await store.countMessages(a.uaid, T0), 0);
        assert.equal(await store.countMessages(b.uaid, T0), 1);
        assert.ok(await store.getChannel(a.uaid, a.channelId), 'channels are not swept with messages');
      });

      scenario('acking a message deletes it once', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const acked = message(uaid, channelId);
        const kept = message(uaid, channelId);
        await store.saveMessage(acked);
        await store.saveMessage(kept);
        assert.equal(await store.deleteMessage(uaid, acked.id), true);
        assert.equal(await store.deleteMessage(uaid, acked.id), false);
        assert.equal(await store.getMessage(uaid, acked.id, T0), null);
        assert.deepEqual(ids(await store.fetchMessages(uaid, { limit: 10, now: T0 })), [kept.id]);
        assert.equal(await store.deleteMessage(uaid, newMessageId()), false);
      });

      scenario("a message of one device cannot be deleted through another device's uaid", async (store) => {
        const owner = await registerDevice(store);
        const other = await registerDevice(store);
        const m = message(owner.uaid, owner.channelId);
        await store.saveMessage(m);
        assert.equal(await store.deleteMessage(other.uaid, m.id), false);
        assert.equal(await store.getMessage(other.uaid, m.id, T0), null);
        assert.ok(await store.getMessage(owner.uaid, m.id, T0));
      });

      scenario('messages are counted per device, only while not expired', async (store) => {
        const a = await registerDevice(store);
        const b = await registerDevice(store);
        for (let i = 0; i < 3; i++) await store.saveMessage(message(a.uaid, a.channelId));
        await store.saveMessage(message(a.uaid, a.channelId, { ttl: 1 }));
        await store.saveMessage(message(b.uaid, b.channelId));
        assert.equal(await store.countMessages(a.uaid, T0), 4);
        assert.equal(await store.countMessages(a.uaid, T0 + 1000), 3);
        assert.equal(await store.countMessages(b.uaid, T0), 1);
        assert.equal(await store.countMessages(newUaid(), T0), 0);
      });

      scenario('messages of one channel come back in the order they were accepted', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const sent: string[] = [];
        for (let i = 0; i < 20; i++) {
          const m = message(uaid, channelId, { receivedAt: T0 });
          sent.push(m.id);
          await store.saveMessage(m);
        }
        assert.deepEqual(ids(await store.fetchMessages(uaid, { limit: 20, now: T0 })), sent);
      });
    });

    describe('sender key blocklist', () => {
      const keyHash = (): Buffer => randomBytes(32);

      scenario('a blocked key is blocked, an unknown key is not', async (store) => {
        const blocked = keyHash();
        assert.equal(await store.isSenderKeyBlocked(blocked), false);
        assert.equal(await store.blockSenderKey({ keyHash: blocked, source: 'holder', reason: 'revoked by its holder', blockedAt: T0 }), true);
        assert.equal(await store.isSenderKeyBlocked(blocked), true);
        assert.equal(await store.isSenderKeyBlocked(keyHash()), false);
      });

      scenario('blocking twice is idempotent and keeps the first entry', async (store) => {
        const hash = keyHash();
        assert.equal(await store.blockSenderKey({ keyHash: hash, source: 'holder', reason: 'first', blockedAt: T0 }), true);
        assert.equal(await store.blockSenderKey({ keyHash: hash, source: 'operator', reason: 'second', blockedAt: T0 + MINUTE }), false);
        assert.deepEqual(await store.listBlockedSenderKeys(), [{ keyHash: hash, source: 'holder', reason: 'first', blockedAt: T0 }]);
      });

      scenario('the list is oldest first; unblock removes one entry and says whether it was there', async (store) => {
        const older = keyHash();
        const newer = keyHash();
        await store.blockSenderKey({ keyHash: newer, source: 'operator', reason: 'abuse report', blockedAt: T0 + MINUTE });
        await store.blockSenderKey({ keyHash: older, source: 'holder', reason: 'stolen', blockedAt: T0 });
        assert.deepEqual(
          (await store.listBlockedSenderKeys()).map((entry) => entry.keyHash.toString('hex')),
          [older.toString('hex'), newer.toString('hex')],
        );
        assert.equal(await store.unblockSenderKey(older), true);
        assert.equal(await store.unblockSenderKey(older), false);
        assert.equal(await store.isSenderKeyBlocked(older), false);
        assert.equal(await store.isSenderKeyBlocked(newer), true);
      });

      scenario('pages of the blocklist are newest first, ties by key hash, from a cursor key; the count is every entry', async (store) => {
        const entries = Array.from({ length: 5 }, (_, i) => ({ keyHash: keyHash(), source: 'operator' as const, reason: 'feed', blockedAt: T0 + (i >> 1) }));
        for (const entry of entries) await store.blockSenderKey(entry);
        const order = [...entries].sort((a, b) => b.blockedAt - a.blockedAt || Buffer.compare(b.keyHash, a.keyHash));
        const first = await store.listBlockedSenderKeysPage({ after: null, limit: 2 });
        assert.deepEqual(first, order.slice(0, 3), 'limit + 1 rows: the extra one says a next page exists');
        const last = order[1] as (typeof order)[number];
        assert.deepEqual(await store.listBlockedSenderKeysPage({ after: { at: last.blockedAt, keyHash: last.keyHash }, limit: 5 }), order.slice(2));
        assert.equal(await store.countBlockedSenderKeys(), 5);
      });

      scenario('the blocklist is independent of devices: dropping or sweeping them keeps it', async (store) => {
        const hash = keyHash();
        const { uaid, channelId } = await registerDevice(store);
        await store.putChannel({ uaid, channelId, senderKeyHash: hash, createdAt: T0 });
        await store.blockSenderKey({ keyHash: hash, source: 'holder', reason: 'stolen', blockedAt: T0 });
        await store.dropDevice(uaid);
        await store.sweepIdleDevices(T0 + 100 * DAY);
        assert.equal(await store.isSenderKeyBlocked(hash), true);
      });
    });

    describe('secret fingerprints', () => {
      const key = (purpose: string, keyId: number) => ({ purpose, keyId, fingerprint: randomBytes(32) });

      scenario('recorded fingerprints are listed with when they were recorded; none at first', async (store) => {
        assert.deepEqual(await store.listSecretFingerprints(), []);
        const endpoint = key('endpointTokens', 1);
        const ids = key('messageIds', 7);
        await store.recordSecretFingerprints([endpoint, ids], [endpoint], T0);
        const rows = (await store.listSecretFingerprints()).sort((a, b) => a.purpose.localeCompare(b.purpose));
        assert.deepEqual(rows, [
          { ...endpoint, recordedAt: T0, sealingSince: T0 },
          { ...ids, recordedAt: T0, sealingSince: null },
        ]);
      });

      scenario('the first fingerprint of a key id stays: a second record of it changes nothing', async (store) => {
        const first = key('endpointTokens', 1);
        const other = key('endpointTokens', 1);
        await store.recordSecretFingerprints([first], [], T0);
        await store.recordSecretFingerprints([other], [other], T0 + MINUTE);
        assert.deepEqual(await store.listSecretFingerprints(), [{ ...first, recordedAt: T0, sealingSince: null }]);
      });

      scenario('a key is marked sealing once, and only under its own fingerprint', async (store) => {
        const recorded = key('endpointTokens', 2);
        await store.recordSecretFingerprints([recorded], [], T0);
        await store.recordSecretFingerprints([], [{ ...recorded, fingerprint: randomBytes(32) }], T0 + MINUTE);
        assert.equal((await store.listSecretFingerprints())[0]?.sealingSince, null);
        await store.recordSecretFingerprints([], [recorded], T0 + 2 * MINUTE);
        await store.recordSecretFingerprints([], [recorded], T0 + 3 * MINUTE);
        assert.equal((await store.listSecretFingerprints())[0]?.sealingSince, T0 + 2 * MINUTE);
      });
    });

    describe('device owners', () => {
      scenario('a device is bound to the first owner only, and an unknown device to nobody', async (store) => {
        const { uaid } = await registerDevice(store);
        assert.equal(await store.getDeviceOwner(uaid), null);
        assert.equal(await store.bindDeviceOwner(uaid, 'user-1', T0), true);
        assert.equal(await store.bindDeviceOwner(uaid, 'user-1', T0 + MINUTE), true, 'binding again to the same owner is fine');
        assert.equal(await store.bindDeviceOwner(uaid, 'user-2', T0 + MINUTE), false, 'another owner cannot take the device');
        assert.equal(await store.getDeviceOwner(uaid), 'user-1');
        const stranger = newUaid();
        assert.equal(await store.bindDeviceOwner(stranger, 'user-1', T0), false);
        assert.equal(await store.getDeviceOwner(stranger), null);
      });

      scenario("a retired owner's devices are dropped with their messages; other owners' stay", async (store) => {
        const first = await registerDevice(store);
        const second = await registerDevice(store);
        const other = await registerDevice(store);
        await store.bindDeviceOwner(first.uaid, 'retired', T0);
        await store.bindDeviceOwner(second.uaid, 'retired', T0);
        await store.bindDeviceOwner(other.uaid, 'kept', T0);
        await store.saveMessage(message(first.uaid, first.channelId));
        await store.saveMessage(message(other.uaid, other.channelId));
        assert.equal(await store.dropDevicesOwnedBy('retired'), 2);
        assert.equal(await store.getDevice(first.uaid), null);
        assert.equal(await store.getDevice(second.uaid), null);
        assert.equal(await store.countMessages(first.uaid, T0), 0);
        assert.equal(await store.getDeviceOwner(first.uaid), null);
        assert.ok(await store.getDevice(other.uaid));
        assert.equal(await store.countMessages(other.uaid, T0), 1);
        assert.equal(await store.dropDevicesOwnedBy('retired'), 0);
      });

      scenario("a dropped device's binding goes with it", async (store) => {
        const { uaid } = await registerDevice(store);
        await store.bindDeviceOwner(uaid, 'user-1', T0);
        await store.dropDevice(uaid);
        assert.equal(await store.getDeviceOwner(uaid), null);
      });
    });

    describe('wake-up addresses', () => {
      const address = { host: '127.0.0.1', port: 40_000, keyId: 7, updatedAt: T0 };

      scenario('a registered device keeps the wake-up address it declared', async (store) => {
        const { uaid } = await registerDevice(store);
        assert.equal(await store.getWakeupAddress(uaid), null);
        assert.equal(await store.setWakeupAddress(uaid, address), true);
        assert.deepEqual(await store.getWakeupAddress(uaid), address);
      });

      scenario('a newer declaration replaces the address and key id', async (store) => {
        const { uaid } = await registerDevice(store);
        await store.setWakeupAddress(uaid, address);
        const moved = { host: '::1', port: 1, keyId: 0, updatedAt: T0 + MINUTE };
        assert.equal(await store.setWakeupAddress(uaid, moved), true);
        assert.deepEqual(await store.getWakeupAddress(uaid), moved);
      });

      scenario('a device that never registered gets no wake-up address stored', async (store) => {
        const uaid = newUaid();
        assert.equal(await store.setWakeupAddress(uaid, address), false);
        assert.equal(await store.getWakeupAddress(uaid), null);
      });

      scenario('a withdrawn address is gone, and withdrawing twice says so', async (store) => {
        const { uaid } = await registerDevice(store);
        await store.setWakeupAddress(uaid, address);
        assert.equal(await store.deleteWakeupAddress(uaid), true);
        assert.equal(await store.getWakeupAddress(uaid), null);
        assert.equal(await store.deleteWakeupAddress(uaid), false);
      });

      scenario('the address goes with its device, dropped or swept idle', async (store) => {
        const dropped = await registerDevice(store, T0);
        const idle = await registerDevice(store, T0);
        const active = await registerDevice(store, T0 + DAY);
        for (const { uaid } of [dropped, idle, active]) await store.setWakeupAddress(uaid, address);
        await store.dropDevice(dropped.uaid);
        await store.sweepIdleDevices(T0 + 1);
        assert.equal(await store.getWakeupAddress(dropped.uaid), null);
        assert.equal(await store.getWakeupAddress(idle.uaid), null);
        assert.deepEqual(await store.getWakeupAddress(active.uaid), address);
        // A device that comes back under the same uaid starts without an address.
        await store.upsertDevice(dropped.uaid, T0 + DAY);
        assert.equal(await store.getWakeupAddress(dropped.uaid), null);
      });
    });

    describe('reads that follow writes', () => {
      // A backend may keep what it read (SQLite keeps channels in memory): every write that
      // changes or removes a channel must show in the next read, even when it was read before.
      scenario('a channel read before it was unregistered reads as gone', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        assert.ok(await store.getChannel(uaid, channelId));
        await store.deleteChannel(uaid, channelId);
        assert.equal(await store.getChannel(uaid, channelId), null);
        await assert.rejects(store.saveMessage(message(uaid, channelId)), SubscriptionMissingError);
      });

      scenario('a channel read before its device was dropped reads as gone', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        assert.ok(await store.getChannel(uaid, channelId));
        await store.dropDevice(uaid);
        assert.equal(await store.getChannel(uaid, channelId), null);
      });

      scenario('a channel read before the idle sweep took its device reads as gone', async (store) => {
        const { uaid, channelId } = await registerDevice(store, T0);
        assert.ok(await store.getChannel(uaid, channelId));
        assert.equal(await store.sweepIdleDevices(T0 + DAY), 1);
        assert.equal(await store.getChannel(uaid, channelId), null);
      });

      scenario("a channel read before its owner was retired reads as gone", async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        await store.bindDeviceOwner(uaid, 'retired', T0);
        assert.ok(await store.getChannel(uaid, channelId));
        assert.equal(await store.dropDevicesOwnedBy('retired'), 1);
        assert.equal(await store.getChannel(uaid, channelId), null);
        await assert.rejects(store.saveMessage(message(uaid, channelId)), SubscriptionMissingError);
      });

      scenario('a channel unregistered and registered again reads back as registered the second time', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        assert.ok(await store.getChannel(uaid, channelId));
        await store.deleteChannel(uaid, channelId);
        assert.equal(await store.getChannel(uaid, channelId), null);
        const senderKeyHash = randomBytes(32);
        await store.putChannel({ uaid, channelId, senderKeyHash, createdAt: T0 + 5 });
        const read = await store.getChannel(uaid, channelId);
        assert.ok(read?.senderKeyHash?.equals(senderKeyHash));
        assert.equal(read?.createdAt, T0 + 5);
      });

      scenario('saves sent together succeed or fail one by one', async (store) => {
        const { uaid, channelId } = await registerDevice(store);
        const gone = await registerDevice(store);
        const pending = message(uaid, channelId, { topic: 'score' });
        await store.saveMessage(pending);
        await store.deleteChannel(gone.uaid, gone.channelId);
        const good = [message(uaid, channelId), message(uaid, channelId)];
        // All issued in one turn: a backend that groups writes meets both failures in one group.
        const results = await Promise.allSettled([
          store.saveMessage(good[0] as NewMessage),
          store.saveMessage(message(gone.uaid, gone.channelId)),
          // Reuses a stored id: fails after its topic replacement would already have run.
          store.saveMessage(message(uaid, channelId, { topic: 'score', id: (good[0] as NewMessage).id })),
          store.saveMessage(good[1] as NewMessage),
        ]);
        assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled']);
        assert.ok((results[1] as PromiseRejectedResult).reason instanceof SubscriptionMissingError);
        // The failed topic replacement left the pending topic message in place.
        assert.deepEqual(ids(await store.fetchMessages(uaid, { limit: 10, now: T0 })), [pending.id, ...good.map((m) => m.id)]);
      });
    });

    certificateScenarios(scenario);

    describe('housekeeping', () => {
      scenario('a device unused past the idle window is swept with everything it had', async (store) => {
        const idle = await registerDevice(store, T0);
        const idleMessage = message(idle.uaid, idle.channelId, { ttl: 30 * 24 * 3600 });
        await store.saveMessage(idleMessage);
        const boundary = await registerDevice(store, T0 + DAY); // lastSeenAt == before: kept
        const active = await registerDevice(store, T0);
        await store.touchDevice(active.uaid, T0 + 2 * DAY);
        await store.saveMessage(message(active.uaid, active.channelId, { ttl: 30 * 24 * 3600 }));

        assert.equal(await store.sweepIdleDevices(T0 + DAY), 1);

        assert.equal(await store.getDevice(idle.uaid), null);
        assert.equal(await store.getChannel(idle.uaid, idle.channelId), null);
        assert.equal(await store.getMessage(idle.uaid, idleMessage.id, T0), null);
        assert.equal(await store.countMessages(idle.uaid, T0), 0);
        assert.ok(await store.getDevice(boundary.uaid));
        assert.ok(await store.getDevice(active.uaid));
        assert.equal(await store.countMessages(active.uaid, T0), 1);
        assert.equal(await store.countChannels(active.uaid), 1);
      });

      scenario('the idle sweep counts the devices it dropped', async (store) => {
        for (let i = 0; i < 3; i++) {
          const { uaid, channelId } = await registerDevice(store, T0 + i);
          await store.saveMessage(message(uaid, channelId));
        }
        assert.equal(await store.sweepIdleDevices(T0), 0);
        assert.equal(await store.sweepIdleDevices(T0 + 2), 2);
        assert.equal(await store.sweepIdleDevices(T0 + 10), 1);
        assert.equal(await store.sweepIdleDevices(T0 + 10), 0);
      });
    });
  });
}
