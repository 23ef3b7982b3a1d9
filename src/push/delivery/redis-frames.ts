/**
 * What Redis nodes say to each other on their node channels, as compact JSON. Pure: no I/O, so the
 * format is tested with plain values. A frame that does not decode is dropped by its receiver (a
 * node of another version, or something else publishing on the channel).
 *
 *   deliver  {"t":"d","r":<request id>,"n":<reply node>,"u":<uaid>,"s":<stored 0|1>,"k"?:<key>,"m":<message>}
 *   answer   {"t":"a","r":<request id>,"ok":<the node had a socket for the device>}
 *   replace  {"t":"x","u":<uaid>,"v":<presence value the newer claim replaced>}
 *   check    {"t":"c","u":<uaid>}  storage holds messages a failed hand-off left for this device
 *
 *   message  {"i":id,"c":channelId,"p":topic|null,"g":urgency,"l":ttl,"a":receivedAt,"e":expiresAt,
 *             "d":base64 data|null,"h":headers|null,"q"?:seq}
 *   key      the sender key hash the channel is bound to (v2), base64 (44 characters), for the
 *            per-app "delivered" count at the ack; absent for v1. Older nodes send none and ignore
 *            it (unknown fields are not read), so nodes of both formats deliver to each other; a
 *            message from an older node counts as delivered only when the receiving session knows
 *            its channel's binding (DeviceState.channelKeys).
 */
import type { LiveMessage } from '../protocol/session.js';
import type { ForwardedHeaders, Urgency } from '../../store/types.js';

export type NodeFrame =
  | { type: 'deliver'; requestId: string; replyTo: string; uaid: string; live: LiveMessage }
  | { type: 'answer'; requestId: string; ok: boolean }
  | { type: 'replace'; uaid: string; claim: string }
  | { type: 'check'; uaid: string };

const URGENCIES: ReadonlySet<string> = new Set<Urgency>(['very-low', 'low', 'normal', 'high']);

/**
 * Turns sender key hashes into their wire form and back without an allocation per message in the
 * common case: one app's pushes carry the same few Buffers out (remembered by identity) and the
 * same strings in (answered with one Buffer per key, which the stats counter then finds by identity).
 */
export class SenderKeyCodec {
  private readonly out = new WeakMap<Buffer, string>();
  private readonly in = new Map<string, Buffer>();

  constructor(private readonly maxKeys = 10_000) {}

  encode(keyHash: Buffer): string {
    let text = this.out.get(keyHash);
    if (text === undefined) {
      text = keyHash.toString('base64');
      this.out.set(keyHash, text);
    }
    return text;
  }

  /** The hash, or null when the text is no 32-byte base64 value. */
  decode(text: string): Buffer | null {
    let keyHash = this.in.get(text);
    if (keyHash !== undefined) return keyHash;
    keyHash = Buffer.from(text, 'base64');
    if (keyHash.length !== 32) return null;
    if (this.in.size >= this.maxKeys) this.in.clear();
    this.in.set(text, keyHash);
    return keyHash;
  }
}

const plainKeys = new SenderKeyCodec(0);

export function encodeFrame(frame: NodeFrame, keys: SenderKeyCodec = plainKeys): string {
  switch (frame.type) {
    case 'answer':
      return JSON.stringify({ t: 'a', r: frame.requestId, ok: frame.ok });
    case 'replace':
      return JSON.stringify({ t: 'x', u: frame.uaid, v: frame.claim });
    case 'check':
      return JSON.stringify({ t: 'c', u: frame.uaid });
    case 'deliver': {
      const { message, stored, senderKeyHash } = frame.live;
      const wire: Record<string, unknown> = {
        i: message.id,
        c: message.channelId,
        p: message.topic,
        g: message.urgency,
        l: message.ttl,
        a: message.receivedAt,
        e: message.expiresAt,
        d: message.data === null ? null : message.data.toString('base64'),
        h: message.headers,
      };
      if ('seq' in message) wire.q = message.seq;
      const k = senderKeyHash ? keys.encode(senderKeyHash) : undefined;
      return JSON.stringify({ t: 'd', r: frame.requestId, n: frame.replyTo, u: frame.uaid, s: stored ? 1 : 0, k, m: wire });
    }
  }
}

/** The frame, or null when the text is not one this version understands. */
export function decodeFrame(text: string, keys: SenderKeyCodec = plainKeys): NodeFrame | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(raw)) return null;
  switch (raw.t) {
    case 'a':
      return isString(raw.r) && typeof raw.ok === 'boolean' ? { type: 'answer', requestId: raw.r, ok: raw.ok } : null;
    case 'x':
      return isString(raw.u) && isString(raw.v) ? { type: 'replace', uaid: raw.u, claim: raw.v } : null;
    case 'c':
      return isString(raw.u) ? { type: 'check', uaid: raw.u } : null;
    case 'd': {
      if (!isString(raw.r) || !isString(raw.n) || !isString(raw.u) || (raw.s !== 0 && raw.s !== 1)) return null;
      const message = decodeMessage(raw.m, raw.u);
      if (!message) return null;
      const live: LiveMessage = { message, stored: raw.s === 1 };
      // A malformed key costs the stats, never the delivery.
      if (isString(raw.k)) live.senderKeyHash = keys.decode(raw.k);
      return { type: 'deliver', requestId: raw.r, replyTo: raw.n, uaid: raw.u, live };
    }
    default:
      return null;
  }
}

function decodeMessage(raw: unknown, uaid: string): LiveMessage['message'] | null {
  if (!isRecord(raw)) return null;
  const { i, c, p, g, l, a, e, d, h, q } = raw;
  if (!isString(i) || !isString(c) || !(p === null || isString(p)) || !isString(g) || !URGENCIES.has(g)) return null;
  if (!isNumber(l) || !isNumber(a) || !isNumber(e) || !(q === undefined || isNumber(q))) return null;
  if (!(d === null || isString(d))) return null;
  const headers = h === null ? null : decodeHeaders(h);
  if (headers === undefined) return null;
  const message = {
    id: i,
    uaid,
    channelId: c,
    topic: p,
    urgency: g as Urgency,
    ttl: l,
    receivedAt: a,
    expiresAt: e,
    data: d === null ? null : Buffer.from(d, 'base64'),
    headers,
  };
  return q === undefined ? message : { ...message, seq: q };
}

/** The headers, or undefined when they are malformed. */
function decodeHeaders(raw: unknown): ForwardedHeaders | undefined {
  if (!isRecord(raw) || !isString(raw.encoding)) return undefined;
  const headers: ForwardedHeaders = { encoding: raw.encoding };
  if (raw.encryption !== undefined) {
    if (!isString(raw.encryption)) return undefined;
    headers.encryption = raw.encryption;
  }
  if (raw.crypto_key !== undefined) {
    if (!isString(raw.crypto_key)) return undefined;
    headers.crypto_key = raw.crypto_key;
  }
  return headers;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
