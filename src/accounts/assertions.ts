import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { AccountRecord } from './store.js';
import type { SigningKeyRing } from './signing-keys.js';

/** The claims of an identity assertion, as the token server reads them. */
export interface AssertionClaims {
  /** Account id (32 hex). */
  sub: string;
  generation: number;
  keysChangedAt: number;
  /** Seconds since the epoch of the last password entry. */
  authTime: number;
  expiresAt: number;
}

export interface AssertionSettings {
  issuer: string;
  audience: string;
  lifetimeSeconds: number;
}

/** A short-lived ES256 JWT naming the account and its key state, for one audience. */
export async function issueAssertion(ring: SigningKeyRing, settings: AssertionSettings, account: AccountRecord, nowMs: number): Promise<{ assertion: string; expiresAt: number }> {
  const { kid, privateKey } = ring.current();
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + settings.lifetimeSeconds;
  const assertion = await new SignJWT({
    generation: account.generation,
    keys_changed_at: account.keysChangedAt,
    auth_time: Math.floor(account.lastAuthAt / 1000),
  })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(settings.issuer)
    .setSubject(account.id)
    .setAudience(settings.audience)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(privateKey);
  return { assertion, expiresAt: exp };
}

/** A profile answer signed by the same ring, so a relying service can check where it came from. */
export async function signProfile(ring: SigningKeyRing, issuer: string, account: AccountRecord, nowMs: number): Promise<string> {
  const { kid, privateKey } = ring.current();
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ email: account.email, generation: account.generation, keys_changed_at: account.keysChangedAt })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setSubject(account.id)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 300)
    .sign(privateKey);
}

export type AssertionFailure = 'malformed' | 'expired' | 'invalid';

const SAFE_MS = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * Verifies signature (ES256 only, key by kid from the ring), issuer, audience and expiry, then the
 * shape of the claims. Values above 2^53-1 are refused here, so nothing imprecise reaches storage.
 */
export async function verifyAssertion(
  ring: SigningKeyRing,
  expected: { issuer: string; audience: string; clockToleranceSeconds: number },
  token: string,
  nowMs: number,
): Promise<AssertionClaims | AssertionFailure> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, ring.verificationKeys(), {
      algorithms: ['ES256'],
      issuer: expected.issuer,
      audience: expected.audience,
      clockTolerance: expected.clockToleranceSeconds,
      currentDate: new Date(nowMs),
      requiredClaims: ['sub', 'exp', 'iat'],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return 'expired';
    if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'malformed';
    return 'invalid';
  }
  const { sub, generation, keys_changed_at: keysChangedAt, auth_time: authTime, exp } = payload;
  if (typeof sub !== 'string' || !/^[0-9a-f]{32}$/.test(sub)) return 'invalid';
  if (!SAFE_MS(generation) || !SAFE_MS(keysChangedAt) || !SAFE_MS(authTime) || !SAFE_MS(exp)) return 'invalid';
  return { sub, generation, keysChangedAt, authTime, expiresAt: exp };
}
