/**
 * The request headers of a push message (RFC 8030 §5, RFC 8291, protocol.md §2), each checked and
 * turned into what the store keeps. Pure functions; every failure is a sender error (src/http/sender-errors.ts).
 */
import { parseAes128gcmHeader } from '../../crypto/ece.js';
import type { ForwardedHeaders, Urgency } from '../../store/types.js';
import { senderErrors } from '../../http/sender-errors.js';

type HeaderValue = string | string[] | undefined;

function single(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** RFC 8030 §5.2: TTL is required, a non-negative integer of seconds; a long one is capped. */
export function parseTtl(value: HeaderValue, maxTtlSeconds: number): number {
  const text = single(value)?.trim();
  if (text === undefined || text === '') throw senderErrors.error('missingTtl');
  if (!/^-?\d+$/.test(text)) throw senderErrors.error('invalidTtl', { detail: 'TTL must be an integer number of seconds' });
  const ttl = Number(text);
  if (ttl < 0) throw senderErrors.error('invalidTtl', { detail: 'TTL must not be negative' });
  return Math.min(ttl, maxTtlSeconds);
}

const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

/** RFC 8030 §5.4: at most 32 characters of the base64url alphabet. */
export function parseTopic(value: HeaderValue): string | null {
  const text = single(value);
  if (text === undefined) return null;
  if (!TOPIC.test(text)) throw senderErrors.error('invalidTopic', { detail: 'Topic must be 1 to 32 characters of A-Z a-z 0-9 _ -' });
  return text;
}

const URGENCIES: readonly Urgency[] = ['very-low', 'low', 'normal', 'high'];

/** RFC 8030 §5.3; absent means normal. */
export function parseUrgency(value: HeaderValue): Urgency {
  const text = single(value)?.trim().toLowerCase();
  if (text === undefined || text === '') return 'normal';
  if (!URGENCIES.includes(text as Urgency)) throw senderErrors.error('invalidUrgency', { detail: 'Urgency must be very-low, low, normal or high' });
  return text as Urgency;
}

/**
 * The aesgcm headers a device needs are ~40 (Encryption) and ~200 (Crypto-Key: dh= and p256ecdsa=)
 * characters. They are stored with the message and sent to the device, so a longer one is refused
 * rather than kept (a 16-byte body once came with 14 kB of Crypto-Key).
 */
export const MAX_FORWARDED_HEADER_LENGTH = 1024;

/**
 * What a stored message costs its device's backlog (guard.maxStoredBytesPerDevice): its body and
 * the headers kept for it, counted as the store counts them (the JSON it stores).
 */
export function storedBytes(body: Buffer | null, forwarded: ForwardedHeaders | null): number {
  if (!forwarded) return body?.length ?? 0;
  // Nearly every message is aes128gcm and shares one headers value: its size is counted once.
  const headerBytes = forwarded === AES128GCM ? AES128GCM_BYTES : Buffer.byteLength(JSON.stringify(forwarded));
  return (body?.length ?? 0) + headerBytes;
}

/** The forwarded headers of every aes128gcm message (everything travels in the body). */
const AES128GCM: ForwardedHeaders = Object.freeze({ encoding: 'aes128gcm' });
const AES128GCM_BYTES = Buffer.byteLength(JSON.stringify(AES128GCM));

function capped(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.length > MAX_FORWARDED_HEADER_LENGTH) {
    throw senderErrors.error('invalidEncryption', { detail: `${name} is longer than ${MAX_FORWARDED_HEADER_LENGTH} characters` });
  }
  return value;
}

/**
 * A non-empty body must be encrypted: RFC 8291 `aes128gcm`, or the legacy `aesgcm` with an
 * `Encryption: salt=…` header. Returns the headers forwarded to the device (null for no body).
 */
export function parseEncryption(
  body: Buffer | null,
  headers: { contentEncoding: HeaderValue; encryption: HeaderValue; cryptoKey: HeaderValue },
): ForwardedHeaders | null {
  if (body === null || body.length === 0) return null;
  const encoding = single(headers.contentEncoding)?.trim().toLowerCase();
  if (encoding === 'aes128gcm') {
    // The salt, record size and sender key travel in the body itself (RFC 8188 §2.1).
    if (!parseAes128gcmHeader(body)) throw senderErrors.error('invalidEncryption', { detail: 'aes128gcm body is too short for its header' });
    return AES128GCM;
  }
  if (encoding === 'aesgcm') {
    const encryption = capped('Encryption', single(headers.encryption));
    if (!encryption || !/(^|[;,\s])salt=/i.test(encryption)) {
      throw senderErrors.error('invalidEncryption', { detail: 'aesgcm needs an Encryption header with a salt' });
    }
    const forwarded: ForwardedHeaders = { encoding: 'aesgcm', encryption: stripQuotesAndPadding(encryption) };
    const cryptoKey = capped('Crypto-Key', single(headers.cryptoKey));
    if (cryptoKey) forwarded.crypto_key = stripQuotesAndPadding(cryptoKey);
    return forwarded;
  }
  if (encoding === undefined || encoding === '') {
    throw senderErrors.error('invalidEncryption', { detail: 'a body needs Content-Encoding aes128gcm or aesgcm' });
  }
  throw senderErrors.error('invalidEncryption', { detail: 'Content-Encoding must be aes128gcm or aesgcm' });
}

/** Firefox expects the legacy parameters without quotes and without base64 `=` padding. */
function stripQuotesAndPadding(value: string): string {
  return value.replace(/"/g, '').replace(/=+(?=[;,]|$)/g, '').trim();
}
