import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { judgeWakeupDatagram, type WakeupKeyState } from '../../src/client/wakeup.js';
import { toBase64Url } from '../../src/crypto/base64.js';
import { deriveWakeupKey, encodeWakeupDatagram, openWakeupDatagram, WAKEUP_DATAGRAM_BYTES } from '../../src/crypto/wakeup.js';

const NOW = 1_800_000_000_000;
const UAID = 'a'.repeat(32);

describe('wake-up datagram', () => {
  const ringSecret = randomBytes(32);
  const key = deriveWakeupKey(ringSecret, UAID);
  const held: WakeupKeyState = { keyId: 3, key: toBase64Url(key), lastCounter: '0' };

  it('round-trips key id, timestamp and counter under the device key', () => {
    const datagram = encodeWakeupDatagram({ keyId: 3, timestamp: NOW, counter: 2n ** 63n + 5n }, key);
    assert.equal(datagram.length, WAKEUP_DATAGRAM_BYTES);
    assert.deepEqual(openWakeupDatagram(datagram, key), { keyId: 3, timestamp: NOW, counter: 2n ** 63n + 5n });
  });

  it('every device gets its own key, and another ring key gives another key', () => {
    assert.notDeepEqual(deriveWakeupKey(ringSecret, 'b'.repeat(32)), key);
    assert.notDeepEqual(deriveWakeupKey(randomBytes(32), UAID), key);
    assert.deepEqual(deriveWakeupKey(ringSecret, UAID), key, 'derived, so the same after a restart');
  });

  it('a change to any byte makes the datagram fail to open', () => {
    const datagram = encodeWakeupDatagram({ keyId: 3, timestamp: NOW, counter: 7n }, key);
    for (let i = 0; i < datagram.length; i++) {
      const altered = Buffer.from(datagram);
      altered[i] = (altered[i] as number) ^ 0x01;
      assert.equal(openWakeupDatagram(altered, key), null, `byte ${i}`);
    }
    assert.equal(openWakeupDatagram(datagram.subarray(0, 51), key), null);
    assert.equal(openWakeupDatagram(Buffer.concat([datagram, Buffer.alloc(1)]), key), null);
  });

  it('the device accepts a fresh datagram with a higher counter, and judges the rest', () => {
    const fresh = encodeWakeupDatagram({ keyId: 3, timestamp: NOW, counter: 10n }, key);
    assert.deepEqual(judgeWakeupDatagram(fresh, held, NOW + 59_000), { accepted: true, counter: 10n });
    assert.deepEqual(judgeWakeupDatagram(fresh, { ...held, lastCounter: '10' }, NOW), { accepted: false, reason: 'replayed' });
    assert.deepEqual(judgeWakeupDatagram(fresh, { ...held, lastCounter: '11' }, NOW), { accepted: false, reason: 'replayed' });
    assert.deepEqual(judgeWakeupDatagram(fresh, held, NOW + 61_000), { accepted: false, reason: 'stale' });
    assert.deepEqual(judgeWakeupDatagram(fresh, held, NOW - 61_000), { accepted: false, reason: 'stale' }, 'too far ahead');
    assert.deepEqual(judgeWakeupDatagram(fresh, undefined, NOW), { accepted: false, reason: 'unknown-key' });
    assert.deepEqual(judgeWakeupDatagram(fresh, { ...held, keyId: 4 }, NOW), { accepted: false, reason: 'unknown-key' });
    const forged = encodeWakeupDatagram({ keyId: 3, timestamp: NOW, counter: 10n }, randomBytes(32));
    assert.deepEqual(judgeWakeupDatagram(forged, held, NOW), { accepted: false, reason: 'forged' });
    assert.deepEqual(judgeWakeupDatagram(randomBytes(52), held, NOW), { accepted: false, reason: 'malformed' });
  });

  it('a stale datagram with a forged MAC is called forged: nothing unauthenticated is believed', () => {
    const forgedStale = encodeWakeupDatagram({ keyId: 3, timestamp: 0, counter: 0n }, randomBytes(32));
    assert.deepEqual(judgeWakeupDatagram(forgedStale, held, NOW), { accepted: false, reason: 'forged' });
  });
});
