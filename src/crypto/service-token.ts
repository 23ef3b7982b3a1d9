/**
 * Service tokens: `id` is base64url(JSON payload ‖ HMAC-SHA-256(payload)) under the token server's
 * shared secret; `key` is derived from the secret and the id with HKDF, so a service holding the
 * secret re-derives it from the id alone and checks request signatures made with it.
 * The ring's first key signs; every key verifies, so the secret rotates without downtime.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hkdfSha256 } from './hkdf.js';
import type { RingKey } from './keyring.js';

export interface TokenPayload {
  uid: number;
  /** The node URL the token is valid for. */
  node: string;
  /** Seconds since the epoch. */
  expires: number;
  /** Random hex, so two tokens for the same uid and expiry differ (and so do their keys). */
  salt: string;
  hashed_uid: string;
}

const MAC_LENGTH = 32;
const SIGNING_INFO = Buffer.from('herald tokenserver v1 signing', 'utf8');
const DERIVE_INFO = 'herald tokenserver v1 derive/';
const HASHED_UID_INFO = Buffer.from('herald tokenserver v1 hashed-uid', 'utf8');

function signingKey(key: RingKey): Buffer {
  return hkdfSha256(key.secret, Buffer.alloc(0), SIGNING_INFO, 32);
}

export function makeToken(ring: readonly RingKey[], payload: Omit<TokenPayload, 'salt'>): { id: string; key: string; payload: TokenPayload } {
  const key = ring[0];
  if (!key) throw new Error('the token server key ring is empty');
  const full: TokenPayload = { ...payload, salt: randomBytes(8).toString('hex') };
  const body = Buffer.from(JSON.stringify(full), 'utf8');
  const mac = createHmac('sha256', signingKey(key)).update(body).digest();
  const id = Buffer.concat([body, mac]).toString('base64url');
  return { id, key: deriveTokenKey(key, id, full.salt), payload: full };
}

export function deriveTokenKey(key: RingKey, id: string, salt: string): string {
  return hkdfSha256(key.secret, Buffer.from(salt, 'hex'), Buffer.from(DERIVE_INFO + id, 'utf8'), 32).toString('base64url');
}

/**
 * For a service: the payload of a token signed by any key of the ring and not expired, with the
 * request-signing key derived under the key that signed it; null otherwise.
 */
export function verifyToken(ring: readonly RingKey[], id: string, nowSeconds: number): { payload: TokenPayload; key: string } | null {
  if (typeof id !== 'string' || id.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(id)) return null;
  const bytes = Buffer.from(id, 'base64url');
  if (bytes.length <= MAC_LENGTH) return null;
  const body = bytes.subarray(0, bytes.length - MAC_LENGTH);
  const mac = bytes.subarray(bytes.length - MAC_LENGTH);
  for (const key of ring) {
    const expected = createHmac('sha256', signingKey(key)).update(body).digest();
    if (!timingSafeEqual(expected, mac)) continue;
    let payload: TokenPayload;
    try {
      payload = JSON.parse(body.toString('utf8')) as TokenPayload;
    } catch {
      return null;
    }
    if (typeof payload.expires !== 'number' || payload.expires <= nowSeconds || typeof payload.salt !== 'string') return null;
    return { payload, key: deriveTokenKey(key, id, payload.salt) };
  }
  return null;
}

/**
 * An HMAC of the account id, so services can tell users apart without seeing their account id.
 * Keyed by the ring's oldest key: rotating the ring must not change every user's hashed uid.
 */
export function hashedUid(ring: readonly RingKey[], accountId: string): string {
  const oldest = ring[ring.length - 1];
  if (!oldest) throw new Error('the token server key ring is empty');
  const key = hkdfSha256(oldest.secret, Buffer.alloc(0), HASHED_UID_INFO, 32);
  return createHmac('sha256', key).update(accountId, 'utf8').digest('hex').slice(0, 32);
}
