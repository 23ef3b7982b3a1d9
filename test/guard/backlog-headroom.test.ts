/**
 * The backlog-cap check skips its storage query only while a device is certainly far below its
 * caps; near them, or once the window passes, storage is asked again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BacklogHeadroom } from '../../src/guard/backlog-headroom.js';

const T0 = 1_700_000_000_000;

describe('backlog headroom', () => {
  it('a device far below its caps is answered without asking storage, until it nears half a cap', () => {
    const headroom = new BacklogHeadroom({ maxMessages: 10, maxBytes: 0 });
    assert.equal(headroom.roomWithoutAsking('a', T0, 100), false, 'nothing known: ask storage');
    headroom.remember('a', T0, { messages: 0, bytes: 0 }, 100); // now 1 stored
    const answered = [1, 2, 3, 4, 5, 6].map(() => headroom.roomWithoutAsking('a', T0 + 10, 100));
    // 2, 3, 4 and 5 messages are at most half of 10; the sixth would pass half: storage is asked.
    assert.deepEqual(answered, [true, true, true, true, false, false]);
  });

  it('the byte cap counts too', () => {
    const headroom = new BacklogHeadroom({ maxMessages: 0, maxBytes: 1000 });
    headroom.remember('a', T0, { messages: 0, bytes: 300 }, 100);
    assert.equal(headroom.roomWithoutAsking('a', T0, 100), true); // 500 of 1000
    assert.equal(headroom.roomWithoutAsking('a', T0, 1), false);
  });

  it('what storage said is trusted only for the window', () => {
    const headroom = new BacklogHeadroom({ maxMessages: 100, maxBytes: 0 }, 1000);
    headroom.remember('a', T0, { messages: 0, bytes: 0 }, 0);
    assert.equal(headroom.roomWithoutAsking('a', T0 + 999, 0), true);
    assert.equal(headroom.roomWithoutAsking('a', T0 + 1000, 0), false);
  });

  it('a device already at half its cap is not kept at all', () => {
    const headroom = new BacklogHeadroom({ maxMessages: 10, maxBytes: 0 });
    headroom.remember('a', T0, { messages: 5, bytes: 0 }, 0);
    assert.equal(headroom.roomWithoutAsking('a', T0, 0), false);
  });

  it('holds at most maxDevices, oldest out first', () => {
    const headroom = new BacklogHeadroom({ maxMessages: 100, maxBytes: 0 }, 1000, 2);
    for (const uaid of ['a', 'b', 'c']) headroom.remember(uaid, T0, { messages: 0, bytes: 0 }, 0);
    assert.equal(headroom.roomWithoutAsking('a', T0, 0), false);
    assert.equal(headroom.roomWithoutAsking('b', T0, 0), true);
    assert.equal(headroom.roomWithoutAsking('c', T0, 0), true);
  });
});
