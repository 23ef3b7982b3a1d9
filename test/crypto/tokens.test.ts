import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromBase64Url, toBase64Url } from '../../src/crypto/base64.js';
import { generateRingKey, KeyRing } from '../../src/crypto/keyring.js';
import {
  isChannelId,
  isUaid,
  newChannelId,
  newMessageId,
  newUaid,
  openEndpointToken,
  openMessageId,
  sealEndpointToken,
  sealMessageId,
} from '../../src/crypto/tokens.js';

const ring = new KeyRing([generateRingKey(1)], 'endpoint-token');
const uaid = newUaid();
const channelId = newChannelId();
const senderKeyHash = createHash('sha256').update('a sender key').digest();

describe('push endpoint tokens', () => {
  it('a v1 endpoint carries the device and channel and nothing else', () => {
    const { version, token } = sealEndpointToken(ring, { uaid, channelId, senderKeyHash: null });
    assert.equal(version, 1);
    assert.deepEqual(openEndpointToken(ring, 1, token), { uaid, channelId, senderKeyHash: null });
  });

  it('a v2 endpoint also carries the hash of the sender key it is restricted to', () => {
    const { version, token } = sealEndpointToken(ring, { uaid, channelId, senderKeyHash });
    assert.equal(version, 2);
    assert.deepEqual(openEndpointToken(ring, 2, token), { uaid, channelId, senderKeyHash });
  });

  it('a token presented under the other version does not open', () => {
    const v1 = sealEndpointToken(ring, { uaid, channelId, senderKeyHash: null }).token;
    const v2 = sealEndpointToken(ring, { uaid, channelId, senderKeyHash }).token;
    assert.equal(openEndpointToken(ring, 2, v1), null);
    assert.equal(openEndpointToken(ring, 1, v2), null);
  });

  it('a sealed payload of any other length does not open as an endpoint', () => {
    for (const length of [0, 16, 31, 33, 48, 63, 65]) {
      const token = ring.seal(Buffer.alloc(length, 7));
      assert.equal(openEndpointToken(ring, 1, token), null, `v1, ${length}`);
      assert.equal(openEndpointToken(ring, 2, token), null, `v2, ${length}`);
    }
  });

  it('an endpoint from another ring, or altered, does not open', () => {
    const { token } = sealEndpointToken(ring, { uaid, channelId, senderKeyHash: null });
    assert.equal(openEndpointToken(new KeyRing([generateRingKey(1)], 'endpoint-token'), 1, token), null);
    const raw = fromBase64Url(token) ?? Buffer.alloc(0);
    raw[20] = (raw[20] ?? 0) ^ 0x80;
    assert.equal(openEndpointToken(ring, 1, toBase64Url(raw)), null);
    assert.equal(openEndpointToken(ring, 1, 'garbage'), null);
  });

  it('a token opened once opens again, still only under its own version', () => {
    const v1 = sealEndpointToken(ring, { uaid, channelId, senderKeyHash: null }).token;
    const v2 = sealEndpointToken(ring, { uaid, channelId, senderKeyHash }).token;
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(openEndpointToken(ring, 1, v1), { uaid, channelId, senderKeyHash: null });
      assert.equal(openEndpointToken(ring, 2, v1), null);
      assert.deepEqual(openEndpointToken(ring, 2, v2), { uaid, channelId, senderKeyHash });
      assert.equal(openEndpointToken(ring, 1, v2), null);
    }
  });

  it('a token that opened is refused by a ring rebuilt without its key', () => {
    const oldKey = generateRingKey(1);
    const before = new KeyRing([oldKey], 'endpoint-token');
    const token = sealEndpointToken(before, { uaid, channelId, senderKeyHash: null }).token;
    assert.ok(openEndpointToken(before, 1, token));
    const rotated = new KeyRing([generateRingKey(2)], 'endpoint-token');
    assert.equal(openEndpointToken(rotated, 1, token), null);
    // While the old key is still listed, the token keeps opening.
    assert.ok(openEndpointToken(new KeyRing([generateRingKey(2), oldKey], 'endpoint-token'), 1, token));
  });

  it('an altered copy of a token that opened is still refused, however often it is tried', () => {
    const token = sealEndpointToken(ring, { uaid, channelId, senderKeyHash: null }).token;
    assert.ok(openEndpointToken(ring, 1, token));
    const raw = fromBase64Url(token) as Buffer;
    raw[30] = (raw[30] ?? 0) ^ 0x01;
    for (let i = 0; i < 3; i++) assert.equal(openEndpointToken(ring, 1, toBase64Url(raw)), null);
  });

  it('refuses to seal identifiers in the wrong form', () => {
    assert.throws(() => sealEndpointToken(ring, { uaid: uaid.toUpperCase(), channelId, senderKeyHash: null }));
    assert.throws(() => sealEndpointToken(ring, { uaid, channelId: channelId.replace(/-/g, ''), senderKeyHash: null }));
    assert.throws(() => sealEndpointToken(ring, { uaid, channelId, senderKeyHash: Buffer.alloc(31) }));
  });
});

describe('message ids', () => {
  const messageRing = new KeyRing([generateRingKey(1)], 'message-id');

  it('a message location opens to the device, channel and message it names', () => {
    const contents = { uaid, channelId, messageId: newMessageId() };
    const token = sealMessageId(messageRing, contents);
    assert.deepEqual(openMessageId(messageRing, token), contents);
  });

  it('a message id whose sealed part is altered, truncated or sealed under another ring does not open', () => {
    // The sealed part names the device and channel; the message id after it is random and in the
    // clear (changing it names a message that does not exist: 404, see the endpoint tests).
    const token = sealMessageId(messageRing, { uaid, channelId, messageId: newMessageId() });
    const id = token.slice(-32);
    const raw = fromBase64Url(token.slice(0, -32)) ?? Buffer.alloc(0);
    for (let index = 0; index < raw.length; index++) {
      const altered = Buffer.from(raw);
      altered[index] = (altered[index] ?? 0) ^ 0x01;
      assert.equal(openMessageId(messageRing, toBase64Url(altered) + id), null, `byte ${index}`);
    }
    assert.equal(openMessageId(messageRing, toBase64Url(raw.subarray(0, raw.length - 1)) + id), null);
    assert.equal(openMessageId(messageRing, token.slice(0, -1)), null);
    assert.equal(openMessageId(new KeyRing([generateRingKey(1)], 'message-id'), token), null);
  });

  it('the locations of one channel differ only in the message id they end with', () => {
    const first = { uaid, channelId, messageId: newMessageId() };
    const second = { uaid, channelId, messageId: newMessageId() };
    const a = sealMessageId(messageRing, first);
    const b = sealMessageId(messageRing, second);
    assert.match(a, /^[A-Za-z0-9_-]+$/);
    assert.ok(a.endsWith(first.messageId) && b.endsWith(second.messageId));
    assert.equal(a.slice(0, -32), b.slice(0, -32));
    assert.deepEqual(openMessageId(messageRing, b), second);
  });

  it('the locations of two channels of one device share nothing that links them', () => {
    const other = newChannelId();
    const a = sealMessageId(messageRing, { uaid, channelId, messageId: newMessageId() });
    const b = sealMessageId(messageRing, { uaid, channelId: other, messageId: newMessageId() });
    // Only the key id byte (the first character) is common; the nonces differ.
    assert.notEqual(a.slice(1, 17), b.slice(1, 17));
    assert.equal(openMessageId(messageRing, b)?.channelId, other);
  });

  it('a location whose sealed part was altered does not open', () => {
    const token = sealMessageId(messageRing, { uaid, channelId, messageId: newMessageId() });
    const sealed = fromBase64Url(token.slice(0, -32)) as Buffer;
    sealed[20] = (sealed[20] ?? 0) ^ 0x01;
    assert.equal(openMessageId(messageRing, toBase64Url(sealed) + token.slice(-32)), null);
    assert.equal(openMessageId(messageRing, token.slice(0, -32)), null);
    assert.equal(openMessageId(messageRing, `${token}0`), null);
  });

  it('a location issued in the earlier format (all three ids sealed together) still opens', () => {
    const contents = { uaid, channelId, messageId: newMessageId() };
    const earlier = messageRing.seal(
      Buffer.concat([Buffer.from(uaid, 'hex'), Buffer.from(channelId.replace(/-/g, ''), 'hex'), Buffer.from(contents.messageId, 'hex')]),
    );
    assert.deepEqual(openMessageId(messageRing, earlier), contents);
  });

  it('a location for an endpoint ring does not open under the message ring, nor the reverse', () => {
    const location = sealMessageId(messageRing, { uaid, channelId, messageId: newMessageId() });
    assert.equal(openMessageId(ring, location), null);
    const { token } = sealEndpointToken(messageRing, { uaid, channelId, senderKeyHash: null });
    assert.equal(openMessageId(messageRing, token + newMessageId()), null);
    assert.equal(openEndpointToken(messageRing, 1, location.slice(0, -32)), null);
  });

  it('an endpoint token is not a message id, even under the same ring', () => {
    const { token } = sealEndpointToken(messageRing, { uaid, channelId, senderKeyHash });
    assert.equal(openMessageId(messageRing, token), null);
    assert.equal(openMessageId(messageRing, '!'), null);
  });
});

describe('identifier helpers', () => {
  it('message ids stay distinct across many refills of the random pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(newMessageId());
    assert.equal(seen.size, 5000);
    for (const id of seen) assert.match(id, /^[0-9a-f]{32}$/);
  });

  it('new identifiers have the shapes the checks accept, and differ every time', () => {
    assert.ok(isUaid(newUaid()));
    assert.match(newMessageId(), /^[0-9a-f]{32}$/);
    assert.ok(isChannelId(newChannelId()));
    assert.notEqual(newUaid(), newUaid());
    assert.notEqual(newMessageId(), newMessageId());
  });

  it('the checks refuse other shapes and non-strings', () => {
    for (const value of [uaid.toUpperCase(), uaid.slice(1), `${uaid}0`, channelId, 42, null, undefined]) {
      assert.equal(isUaid(value), false, String(value));
    }
    for (const value of [channelId.toUpperCase(), channelId.replace(/-/g, ''), `{${channelId}}`, uaid, 42, null]) {
      assert.equal(isChannelId(value), false, String(value));
    }
  });
});
