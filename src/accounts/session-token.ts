import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A session token is 32 random bytes, handed out as 64 lowercase hex; only its SHA-256 is kept. */
const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

export function newSessionToken(): string {
  return randomBytes(32).toString('hex');
}

/** Public id of a session (listing, destroying): random, unrelated to the token. */
export function newSessionId(): string {
  return randomBytes(16).toString('hex');
}

/** The token's hash, or null for anything that is not exactly 64 lowercase hex: no lookup is made. */
export function hashSessionToken(token: unknown): Buffer | null {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return null;
  return createHash('sha256').update(Buffer.from(token, 'hex')).digest();
}

/**
 * The store looks a session up by its hash; comparing the found hash again in constant time keeps
 * the check correct even if a backend's index comparison were ever case- or collation-folding.
 */
export function sameTokenHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerValue(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer ([^\s]+)$/i.exec(header.trim());
  return match?.[1] ?? null;
}
