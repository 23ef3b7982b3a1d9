/**
 * VAPID (RFC 8292) on the sender endpoint: parse the Authorization / Crypto-Key headers, verify the
 * JWT, and remember verified tokens until they expire so a sender reusing one token (web-push does,
 * for up to 12 h) costs one signature check instead of one per message.
 */
import { timingSafeEqual } from 'node:crypto';
import { parseVapidHeaders, sha256, verifyVapidJwt } from '../../crypto/vapid.js';
import { senderErrors } from '../../http/sender-errors.js';

export interface VapidCheckOptions {
  /** The endpoint origin; `aud` must equal it. A function: it is known only once listening. */
  audience: () => string;
  clockSkewSeconds: number;
  cacheEntries: number;
}

export interface VerifiedSender {
  publicKey: Buffer;
  keyHash: Buffer;
}

export class VapidChecker {
  /** token + key → { exp, keyHash }. Insertion-ordered, so the oldest entry is evicted first. */
  private readonly verified = new Map<string, { exp: number; keyHash: Buffer }>();

  constructor(private readonly options: VapidCheckOptions) {}

  /**
   * Returns the verified sender, null when the request carries no VAPID at all, or throws 401/109.
   */
  check(authorization: string | undefined, cryptoKey: string | undefined, nowSeconds: number): VerifiedSender | null {
    const parsed = parseVapidHeaders(authorization, cryptoKey);
    if (parsed === null) return null;
    if (!parsed.ok) throw senderErrors.error('unauthorized', { detail: parsed.reason });
    const { jwt, publicKey } = parsed.value;

    const cacheKey = `${jwt}|${publicKey.toString('base64')}`;
    const cached = this.verified.get(cacheKey);
    if (cached && cached.exp > nowSeconds) return { publicKey, keyHash: cached.keyHash };
    if (cached) this.verified.delete(cacheKey);

    const result = verifyVapidJwt(jwt, publicKey, {
      audience: this.options.audience(),
      nowSeconds,
      clockSkewSeconds: this.options.clockSkewSeconds,
    });
    if (!result.ok) throw senderErrors.error('unauthorized', { detail: result.reason });
    const keyHash = sha256(publicKey);
    this.remember(cacheKey, result.claims.exp, keyHash);
    return { publicKey, keyHash };
  }

  private remember(cacheKey: string, exp: number, keyHash: Buffer): void {
    if (this.options.cacheEntries === 0) return;
    if (this.verified.size >= this.options.cacheEntries) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(cacheKey, { exp, keyHash });
  }
}

/** v2 endpoints are bound to one sender key; compared in constant time. */
export function senderKeyMatches(sealed: Buffer, presented: Buffer): boolean {
  return sealed.length === presented.length && timingSafeEqual(sealed, presented);
}
