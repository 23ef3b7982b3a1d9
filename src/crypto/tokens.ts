/**
 * What Herald seals into the URLs it hands out: push endpoints and message locations. Identifiers
 * travel as raw bytes inside the seal to keep URLs short; their text forms are rebuilt on opening.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { KeyRing } from './keyring.js';
import { cacheFor, TokenCache } from './token-cache.js';
import { pooledRandomHex } from './random-pool.js';

export interface EndpointTokenContents {
  /** 32 lowercase hex characters. */
  uaid: string;
  /** Lowercase hyphenated UUID. */
  channelId: string;
  /** SHA-256 of the sender's VAPID key (32 bytes) for a v2 endpoint; null for v1. */
  senderKeyHash: Buffer | null;
}

export interface MessageIdContents {
  uaid: string;
  channelId: string;
  /** 32 lowercase hex characters. */
  messageId: string;
}

const ID_BYTES = 16;
const HASH_BYTES = 32;
const UAID = /^[0-9a-f]{32}$/;
const CHANNEL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newUaid(): string {
  return randomBytes(ID_BYTES).toString('hex');
}

/** One per accepted message: drawn from the random pool (random-pool.ts). */
export function newMessageId(): string {
  return pooledRandomHex(ID_BYTES);
}

export function newChannelId(): string {
  return randomUUID();
}

export function isUaid(s: unknown): s is string {
  return typeof s === 'string' && UAID.test(s);
}

export function isChannelId(s: unknown): s is string {
  return typeof s === 'string' && CHANNEL_ID.test(s);
}

export function sealEndpointToken(ring: KeyRing, contents: EndpointTokenContents): { version: 1 | 2; token: string } {
  const ids = Buffer.concat([hexId(contents.uaid, 'uaid'), channelIdBytes(contents.channelId)]);
  const hash = contents.senderKeyHash;
  if (hash === null) return { version: 1, token: ring.seal(ids) };
  if (hash.length !== HASH_BYTES) throw new TypeError(`senderKeyHash must be ${HASH_BYTES} bytes`);
  return { version: 2, token: ring.seal(Buffer.concat([ids, hash])) };
}

/** Endpoint tokens opened lately and channel seals made lately, per ring (see token-cache.ts). */
const CACHED_TOKENS_PER_RING = 10_000;
const openedEndpoints = new WeakMap<KeyRing, TokenCache<{ version: 1 | 2; contents: EndpointTokenContents }>>();
const sealedChannels = new WeakMap<KeyRing, TokenCache<string>>();

/**
 * Null unless the token opens and holds exactly what its version promises. The result is shared
 * with later calls for the same token (it is frozen): read it, do not change it.
 */
export function openEndpointToken(ring: KeyRing, version: 1 | 2, token: string): EndpointTokenContents | null {
  const opened = cacheFor(openedEndpoints, ring, CACHED_TOKENS_PER_RING);
  const cached = opened.get(token);
  if (cached) return cached.version === version ? cached.contents : null;
  const plaintext = ring.open(token);
  if (!plaintext) return null;
  const sealedVersion = plaintext.length === 2 * ID_BYTES ? 1 : plaintext.length === 2 * ID_BYTES + HASH_BYTES ? 2 : null;
  if (sealedVersion === null) return null;
  const contents: EndpointTokenContents = Object.freeze({
    uaid: plaintext.subarray(0, ID_BYTES).toString('hex'),
    channelId: formatChannelId(plaintext.subarray(ID_BYTES, 2 * ID_BYTES)),
    senderKeyHash: sealedVersion === 2 ? Buffer.from(plaintext.subarray(2 * ID_BYTES)) : null,
  });
  opened.set(token, { version: sealedVersion, contents });
  return sealedVersion === version ? contents : null;
}

/*
 * A message location is the sealed channel (uaid, channelId and a purpose byte) followed by the
 * message id in hex. Sealing per message cost an AES-GCM encryption on every POST; the channel
 * part is the same for every message of a channel, so it is sealed once and cached. The message
 * id needs no seal: it is 128 random bits, already known to the device, and it is only ever looked
 * up under the uaid the seal authenticates, so a changed id finds nothing. The channel seals of one
 * device are unlinkable (a fresh nonce each), and the sender learns nothing it did not know: all
 * its locations for one endpoint share a prefix, as they share the endpoint.
 * Locations issued before this format (the three ids sealed together) still open.
 */
const LOCATION_PURPOSE = 0x4d; // 'M': a sealed channel of a location is no other token of this ring
const MESSAGE_ID_HEX = 2 * ID_BYTES;
const HEX_TAIL = /^[0-9a-f]{32}$/;

export function sealMessageId(ring: KeyRing, contents: MessageIdContents): string {
  if (!isUaid(contents.messageId)) throw new TypeError('messageId must be 32 lowercase hex characters');
  const sealed = cacheFor(sealedChannels, ring, CACHED_TOKENS_PER_RING);
  const key = contents.uaid + contents.channelId;
  let prefix = sealed.get(key);
  if (prefix === undefined) {
    prefix = ring.seal(Buffer.concat([hexId(contents.uaid, 'uaid'), channelIdBytes(contents.channelId), Buffer.from([LOCATION_PURPOSE])]));
    sealed.set(key, prefix);
  }
  return prefix + contents.messageId;
}

export function openMessageId(ring: KeyRing, token: string): MessageIdContents | null {
  if (typeof token !== 'string') return null;
  const tail = token.slice(-MESSAGE_ID_HEX);
  if (token.length > MESSAGE_ID_HEX && HEX_TAIL.test(tail)) {
    const channel = ring.open(token.slice(0, -MESSAGE_ID_HEX));
    if (channel && channel.length === 2 * ID_BYTES + 1 && channel[2 * ID_BYTES] === LOCATION_PURPOSE) {
      return { uaid: channel.subarray(0, ID_BYTES).toString('hex'), channelId: formatChannelId(channel.subarray(ID_BYTES, 2 * ID_BYTES)), messageId: tail };
    }
  }
  // The earlier format: all three ids in one seal.
  const plaintext = ring.open(token);
  if (!plaintext || plaintext.length !== 3 * ID_BYTES) return null;
  return {
    uaid: plaintext.subarray(0, ID_BYTES).toString('hex'),
    channelId: formatChannelId(plaintext.subarray(ID_BYTES, 2 * ID_BYTES)),
    messageId: plaintext.subarray(2 * ID_BYTES).toString('hex'),
  };
}

function hexId(value: string, name: string): Buffer {
  if (!isUaid(value)) throw new TypeError(`${name} must be 32 lowercase hex characters`);
  return Buffer.from(value, 'hex');
}

function channelIdBytes(value: string): Buffer {
  if (!isChannelId(value)) throw new TypeError('channelId must be a lowercase hyphenated UUID');
  return Buffer.from(value.replace(/-/g, ''), 'hex');
}

function formatChannelId(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
