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

  it('a message id that is altered, truncated or sealed under another ring does not open', () => {
    const token = sealMessageId(messageRing, { uaid, channelId, messageId: newMessageId() });
    const raw = fromBase64Url(token) ?? Buffer.alloc(0);
    for (let index = 0; index < raw.length; index += 7) {
      const altered = Buffer.from(raw);
      altered[index] = (altered[index] ?? 0) ^ 0x01;
      assert.equal(openMessageId(messageRing, toBase64Url(altered)), null, `byte ${index}`);
    }
    assert.equal(openMessageId(messageRing, toBase64Url(raw.subarray(0, raw.length - 1))), null);
    assert.equal(openMessageId(new KeyRing([generateRingKey(1)], 'message-id'), token), null);
  });

  it('an endpoint token is not a message id, even under the same ring', () => {
    const { token } = sealEndpointToken(messageRing, { uaid, channelId, senderKeyHash });
    assert.equal(openMessageId(messageRing, token), null);
    assert.equal(openMessageId(messageRing, '!'), null);
  });
});

describe('identifier helpers', () => {
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
