/**
 * The in-memory windows behind the limits and bans (src/guard/limiters.ts, bans.ts), on a clock
 * the test moves: a window opens at a key's first hit, refuses past its points with the time left,
 * and a ban ends when its cool-down has passed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBanList } from '../../src/guard/bans.js';
import { WindowCounter } from '../../src/guard/limiters.js';
import { ManualClock } from '../helpers/clock.js';

describe('guard counters on an injected clock', () => {
  it('a window opens at the first hit, refuses past its points with the milliseconds left, and reopens when it ends', async () => {
    const clock = new ManualClock({ start: 1_000_000 });
    const counter = new WindowCounter(2, 1000, clock.now);
    assert.equal(await counter.hit('a'), null);
    clock.advance(400);
    assert.equal(await counter.hit('a'), null);
    assert.equal(await counter.hit('a'), 600, 'the third hit of a 2-point window waits for its end');
    assert.equal(await counter.hit('b'), null, 'each key has its own window');
    clock.advance(600);
    assert.equal(await counter.hit('a'), null, 'a new window at its end');
  });

  it('a ban lasts its cool-down, to the millisecond', async () => {
    const clock = new ManualClock({ start: 1_000_000 });
    const bans = new MemoryBanList(clock.now);
    await bans.ban('4:203.0.113.7', 'dead-endpoints', 2);
    clock.advance(1999);
    assert.equal(await bans.remaining('4:203.0.113.7'), 1);
    assert.deepEqual(await bans.list(), [{ source: '4:203.0.113.7', reason: 'dead-endpoints', expiresAt: 1_002_000 }]);
    clock.advance(1);
    assert.equal(await bans.remaining('4:203.0.113.7'), null);
    assert.deepEqual(await bans.list(), []);
  });
});
