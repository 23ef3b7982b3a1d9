import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromBase64Url, toBase64Url } from '../../src/crypto/base64.js';
import { generateRingKey, KeyRing, type RingKey } from '../../src/crypto/keyring.js';

const message = Buffer.from('uaid and channel, sealed');

describe('a key ring that seals tokens', () => {
  it('opens what it sealed, and each seal looks different', () => {
    const ring = new KeyRing([generateRingKey(1)], 'endpoint-token');
    const first = ring.seal(message);
    const second = ring.seal(message);
    assert.notEqual(first, second);
    assert.deepEqual(ring.open(first), message);
    assert.deepEqual(ring.open(second), message);
    assert.match(first, /^[A-Za-z0-9_-]+$/);
    assert.equal(fromBase64Url(first)?.length, 1 + 12 + message.length + 16);
  });

  it('keeps opening old tokens after a new key is prepended, and seals with the new key', () => {
    const oldKey = generateRingKey(7);
    const before = new KeyRing([oldKey], 'endpoint-token');
    const oldToken = before.seal(message);

    const after = new KeyRing([generateRingKey(8), oldKey], 'endpoint-token');
    assert.deepEqual(after.open(oldToken), message);
    const newToken = after.seal(message);
    assert.equal(fromBase64Url(newToken)?.[0], 8);
    assert.equal(before.open(newToken), null);
  });

  it('stops opening a dropped key’s tokens', () => {
    const oldKey = generateRingKey(1);
    const newKey = generateRingKey(2);
    const oldToken = new KeyRing([oldKey], 'endpoint-token').seal(message);
    assert.equal(new KeyRing([newKey], 'endpoint-token').open(oldToken), null);
  });

  it('refuses a token with any single byte altered', () => {
    const ring = new KeyRing([generateRingKey(3)], 'endpoint-token');
    const raw = fromBase64Url(ring.seal(message));
    assert.ok(raw);
    for (let i = 0; i < raw.length; i += 1) {
      const altered: Buffer = Buffer.from(raw);
      altered[i] = (altered[i] ?? 0) ^ 0x01;
      assert.equal(ring.open(toBase64Url(altered)), null, `byte ${i}`);
    }
  });

  it('refuses a token with any character of its text changed', () => {
    const ring = new KeyRing([generateRingKey(3)], 'endpoint-token');
    const token = ring.seal(message);
    for (let i = 0; i < token.length; i += 1) {
      const replacement = token[i] === 'A' ? 'B' : 'A';
      const altered = token.slice(0, i) + replacement + token.slice(i + 1);
      assert.equal(ring.open(altered), null, `character ${i}`);
    }
  });

  it('does not open a token sealed for another purpose under the same secret', () => {
    const key = generateRingKey(1);
    const token = new KeyRing([key], 'message-id').seal(message);
    assert.equal(new KeyRing([key], 'endpoint-token').open(token), null);
    assert.deepEqual(new KeyRing([key], 'message-id').open(token), message);
  });

  it('answers null, never throws, for truncated, extended, empty, non-base64 or unknown-key tokens', () => {
    const ring = new KeyRing([generateRingKey(1)], 'endpoint-token');
    const token = ring.seal(message);
    const raw = fromBase64Url(token) ?? Buffer.alloc(0);
    const unknownKey = Buffer.from(raw);
    unknownKey[0] = 99;
    const hostile: unknown[] = [
      '', 'A', 'AAAA', token.slice(0, -1), token.slice(0, -4), `${token}AAAA`, `${token}=`, raw.toString('base64'),
      'not base64!', toBase64Url(raw.subarray(0, 28)), toBase64Url(unknownKey), 'x'.repeat(10_000), undefined, null, 42,
    ];
    for (const input of hostile) assert.equal(ring.open(input as string), null, String(input).slice(0, 40));
  });

  it('refuses to be built with no key, duplicate ids, bad ids or bad secret lengths', () => {
    const key = generateRingKey(1);
    assert.throws(() => new KeyRing([], 'endpoint-token'));
    assert.throws(() => new KeyRing([key, generateRingKey(1)], 'endpoint-token'), /twice/);
    assert.throws(() => new KeyRing([{ id: 2, secret: Buffer.alloc(16) }], 'endpoint-token'), /32 bytes/);
    assert.throws(() => new KeyRing([{ id: 256, secret: Buffer.alloc(32) } as RingKey], 'endpoint-token'));
    assert.throws(() => new KeyRing([{ id: 1.5, secret: Buffer.alloc(32) } as RingKey], 'endpoint-token'));
    assert.throws(() => generateRingKey(-1));
  });

  it('exposes its keys newest first, unaffected by later changes to the caller’s array', () => {
    const keys = [generateRingKey(2), generateRingKey(1)];
    const ring = new KeyRing(keys, 'endpoint-token');
    keys.reverse();
    assert.deepEqual(ring.keys.map((key) => key.id), [2, 1]);
    assert.equal(generateRingKey(0).secret.length, 32);
    assert.notDeepEqual(generateRingKey(0).secret, generateRingKey(0).secret);
  });
});

describe('key ring: the key id is authenticated', () => {
  it('two ids sharing one secret: a token whose id byte is changed to the other does not open', () => {
    const secret = randomBytes(32);
    const ring = new KeyRing([{ id: 1, secret }, { id: 2, secret: Buffer.from(secret) }], 'test');
    const token = ring.seal(Buffer.from('payload'));
    assert.equal(ring.open(token)?.toString(), 'payload');
    const bytes = Buffer.from(token, 'base64url');
    bytes[0] = 2;
    assert.equal(ring.open(bytes.toString('base64url')), null, 'the id is in the AAD: the same subkey does not open it under id 2');
  });
});
