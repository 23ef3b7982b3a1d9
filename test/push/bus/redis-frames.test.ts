/** The node-to-node frames of the Redis bus, as plain values: no Redis needed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodeFrame, type NodeFrame } from '../../../src/push/delivery/redis-frames.js';

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
