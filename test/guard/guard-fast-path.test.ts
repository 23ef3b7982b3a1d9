/**
 * What keeps the guard to a few µs per message: in memory its checks answer at once (each message
 * of a burst is counted before the next is looked at), and on one process a device far below its
 * backlog caps is answered without asking storage until its own count nears half a cap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { Guard } from '../../src/guard/guard.js';
import type { Store } from '../../src/store/types.js';
import { ManualClock } from '../helpers/clock.js';

const config = validateConfig({ dataDir: '/tmp/unused' });
const target = { uaid: 'a'.repeat(32), channelId: 'b'.repeat(32), senderKeyHash: Buffer.alloc(32, 7) };
const publicSource = { key: '4:203.0.113.9', exempt: false };

/** A store that holds nothing and counts how often the backlog caps ask it. */
function countingStore(): { store: Store; asked: () => number } {
  let asked = 0;
  const store = {
    deviceBacklog: async () => {
      asked++;
      return { messages: 0, bytes: 0 };
    },
    countChannelMessages: async () => 0,
  } as unknown as Store;
  return { store, asked: () => asked };
}

async function reserve(guard: Guard, store: Store, now: number): Promise<void> {
  const reserved = await guard.reserveBacklog(store, target, now, 100);
  assert.ok('release' in reserved, 'admitted');
  reserved.release();
}

describe('the guard on its fast path', () => {
  it('in memory, a burst to one subscription is counted message by message: exactly the limit gets through', () => {
    const clock = new ManualClock();
    const guard = new Guard({ ...config.guard, perSubscription: { points: 5, seconds: 60 } }, { url: 'local', keyPrefix: 't' }, {}, clock.now);
    const answers = Array.from({ length: 8 }, () => guard.limitSend(publicSource, target));
    for (const answer of answers) assert.ok(!(answer instanceof Promise), 'answered at once, before the next message is looked at');
    assert.deepEqual(
      answers.map((answer) => answer === null),
      [true, true, true, true, true, false, false, false],
    );
    assert.match((answers[5] as { detail: string }).detail, /per subscription/);
  });

  it('on one process a device far below its caps asks storage once, then again only near half a cap, however long it takes', async () => {
    const clock = new ManualClock();
    // 100 messages per subscription (the smaller cap): half of it is 50.
    const guard = new Guard(config.guard, { url: 'local', keyPrefix: 't' }, {}, clock.now, config.push.msgLimit);
    const { store, asked } = countingStore();
    for (let i = 0; i < 50; i++) {
      await reserve(guard, store, clock.now());
      clock.advance(60_000);
    }
    assert.equal(asked(), 1, 'an hour of messages, one question');
    await reserve(guard, store, clock.now());
    assert.equal(asked(), 2, 'the 51st message would pass half the cap: storage is asked again');
    await guard.close();
  });

  it('with other nodes storing too (a Redis bus), what storage said is trusted for a second only', async () => {
    const clock = new ManualClock();
    // Not started: the counters stay in memory and nothing connects to Redis.
    const guard = new Guard(config.guard, { url: 'redis://127.0.0.1:1', keyPrefix: 't' }, {}, clock.now, config.push.msgLimit);
    const { store, asked } = countingStore();
    await reserve(guard, store, clock.now());
    clock.advance(999);
    await reserve(guard, store, clock.now());
    assert.equal(asked(), 1);
    clock.advance(1);
    await reserve(guard, store, clock.now());
    assert.equal(asked(), 2, 'messages other nodes stored since are unseen here: ask again');
    await guard.close();
  });
});
