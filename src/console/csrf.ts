/**
 * Stateless CSRF tokens for the web console (docs/console.md). The server keeps no token table:
 * a token is `v1.<key id>.<nonce>.<mac>` with mac = HMAC-SHA256(key, kind ‖ binding ‖ nonce), where
 * the binding is the console session's id (after sign-in) or the random pre-session cookie (the
 * sign-in form, so an attacker's own token cannot sign a victim into the attacker's account). The
 * key comes from the `consoleCsrf` ring in secrets.json: the first key signs, every listed key
 * verifies, so a rotation logs nobody out. Compared with crypto.timingSafeEqual.
 *
 * Why not @fastify/csrf-protection: it needs @fastify/cookie plus a session plugin, and is only
 * safe with both `getUserInfo` and `csrfOpts.hmacKey` set (otherwise cookie tossing defeats it);
 * it takes one secret rather than a key ring, so rotating it invalidates every open tab; and we
 * need two bindings (pre-session, session) behind a Fetch Metadata check anyway. What is left is
 * an HMAC and a constant-time compare, which are shorter to read here than to audit there.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fromBase64Url, toBase64Url } from '../crypto/base64.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import type { RingKey } from '../crypto/keyring.js';

export type CsrfBinding = 'pre' | 'session';
export type CsrfVerdict = 'ok' | 'missing' | 'invalid';

const NONCE_BYTES = 16;
const MAC_BYTES = 32;
const TOKEN_PATTERN = /^v1\.(\d{1,3})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export class CsrfTokens {
  private readonly keys = new Map<number, Buffer>();
  private readonly signingId: number;

  constructor(ring: readonly RingKey[]) {
    const first = ring[0];
    if (!first) throw new Error('the "consoleCsrf" key ring has no key');
    // A subkey of its own, so the ring's secret never MACs anything but console CSRF tokens.
    for (const key of ring) this.keys.set(key.id, hkdfSha256(key.secret, Buffer.alloc(0), Buffer.from('herald console csrf v1'), 32));
    this.signingId = first.id;
  }

  /** A fresh token bound to `id` (the session id, or the pre-session cookie's value). */
  issue(kind: CsrfBinding, id: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    return `v1.${this.signingId}.${toBase64Url(nonce)}.${toBase64Url(this.mac(this.signingId, kind, id, nonce) as Buffer)}`;
  }

  verify(kind: CsrfBinding, id: string, token: unknown): CsrfVerdict {
    if (token === undefined || token === '') return 'missing';
    const match = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null;
    if (!match) return 'invalid';
    const nonce = fromBase64Url(match[2] as string);
    const presented = fromBase64Url(match[3] as string);
    const expected = this.mac(Number(match[1]), kind, id, nonce ?? Buffer.alloc(0));
    if (!nonce || !presented || !expected || presented.length !== MAC_BYTES) return 'invalid';
    return timingSafeEqual(presented, expected) ? 'ok' : 'invalid';
  }

  private mac(keyId: number, kind: CsrfBinding, id: string, nonce: Buffer): Buffer | null {
    const key = this.keys.get(keyId);
    if (!key) return null;
    // Lengths are fixed or delimited, so no two (kind, id, nonce) triples share an input.
    return createHmac('sha256', key).update(`herald-console-csrf\n${kind}\n${id}\n`).update(nonce).digest();
  }
}
