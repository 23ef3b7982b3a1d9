/** The node-to-node frames of the Redis bus, as plain values: no Redis needed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodeFrame, SenderKeyCodec, type NodeFrame } from '../../../src/push/delivery/redis-frames.js';

const base = {
  id: '0123456789abcdef0123456789abcdef',
  uaid: 'fedcba9876543210fedcba9876543210',
  channelId: '5f2f3a1e-0b8c-4d4e-9a5a-1c2b3d4e5f60',
  topic: 'news',
  urgency: 'high' as const,
  ttl: 60,
  receivedAt: 1_700_000_000_000,
  expiresAt: 1_700_000_060_000,
};

describe('Redis bus frames', () => {
  it('a delivery crosses nodes byte for byte, stored or TTL=0, with or without seq', () => {
    const frames: NodeFrame[] = [
      {
        type: 'deliver',
        requestId: '1a',
        replyTo: 'node-b',
        uaid: base.uaid,
        live: {
          stored: true,
          message: { ...base, seq: 42, data: Buffer.from([0, 1, 254, 255]), headers: { encoding: 'aesgcm', encryption: 'salt=x', crypto_key: 'dh=y' } },
        },
      },
      { type: 'deliver', requestId: '1b', replyTo: 'node-b', uaid: base.uaid, live: { stored: false, message: { ...base, topic: null, data: null, headers: null } } },
      { type: 'answer', requestId: '1a', ok: true },
      { type: 'replace', uaid: base.uaid, claim: 'node-a.3' },
      { type: 'check', uaid: base.uaid },
    ];
    for (const frame of frames) assert.deepEqual(decodeFrame(encodeFrame(frame)), frame);
  });

  it("a delivery carries its channel's sender key compactly, and each node reads the other's format", () => {
    const keyHash = Buffer.alloc(32, 7);
    const live = { stored: true, senderKeyHash: keyHash, message: { ...base, data: null, headers: null } };
    const frame: NodeFrame = { type: 'deliver', requestId: '1', replyTo: 'n', uaid: base.uaid, live };
    const sending = new SenderKeyCodec();
    const text = encodeFrame(frame, sending);
    assert.equal((JSON.parse(text) as { k: string }).k, keyHash.toString('base64'), '44 characters beside the message');
    assert.equal(encodeFrame(frame, sending), text);
    const receiving = new SenderKeyCodec();
    const first = decodeFrame(text, receiving);
    assert.deepEqual(first, frame);
    const again = decodeFrame(text, receiving);
    assert.ok(first?.type === 'deliver' && again?.type === 'deliver');
    assert.equal(again.live.senderKeyHash, first.live.senderKeyHash, 'one Buffer per key on the receiving node (the stats counter finds it by identity)');

    // v1: no key on the wire.
    const v1 = encodeFrame({ ...frame, live: { ...live, senderKeyHash: null } });
    assert.equal('k' in (JSON.parse(v1) as object), false);
    // An older node's frame (no "k") is delivered; the session falls back to the binding it knows.
    const older = decodeFrame(v1);
    assert.ok(older?.type === 'deliver');
    assert.equal(older.live.senderKeyHash, undefined);
    // A malformed key costs the count, not the delivery; an older node reading "k" ignores it.
    const bad = decodeFrame(text.replace(keyHash.toString('base64'), 'AAAA'));
    assert.ok(bad?.type === 'deliver');
    assert.equal(bad.live.senderKeyHash, null);
  });

  it('a frame this version does not understand is dropped, not half-read', () => {
    const good = JSON.parse(
      encodeFrame({ type: 'deliver', requestId: '1', replyTo: 'n', uaid: base.uaid, live: { stored: true, message: { ...base, data: null, headers: null } } }),
    ) as { m: Record<string, unknown> };
    for (const text of [
      'not json',
      '[]',
      '{"t":"?"}',
      '{"t":"a","r":"1"}',
      JSON.stringify({ ...good, m: { ...good.m, g: 'urgent' } }),
      JSON.stringify({ ...good, m: { ...good.m, h: { encryption: 'salt=x' } } }),
      JSON.stringify({ ...good, s: true }),
    ]) {
      assert.equal(decodeFrame(text), null, text);
    }
  });
});
