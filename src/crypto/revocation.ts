/**
 * A key holder's revocation (docs/security.md, "Revoking a sender key"):
 *
 *   POST /v1/keys/revoke
 *   Authorization: vapid t=<JWT>, k=<public key>      (or WebPush/Bearer <JWT> + Crypto-Key: p256ecdsa=<key>)
 *
 * The JWT is an ordinary VAPID JWT (ES256, aud = the endpoint origin, exp at most 24 h ahead)
 * signed by the key being revoked, with one more claim: `revoke`, the unpadded base64url SHA-256
 * of the 65-byte uncompressed public key (the same hash a v2 endpoint seals). The claim makes a
 * revocation a deliberate act: a VAPID JWT captured from a push request cannot revoke its key.
 */
import { timingSafeEqual } from 'node:crypto';
import { decodeJwt } from 'jose';
import { fromBase64Url, toBase64Url } from './base64.js';
import { parseVapidHeaders, sha256, verifyVapidJwt } from './vapid.js';

export type RevocationCheck = { ok: true; keyHash: Buffer } | { ok: false; reason: string };

export function checkRevocationRequest(
  authorization: string | undefined,
  cryptoKey: string | undefined,
  options: { audience: string; nowSeconds: number; clockSkewSeconds: number },
): RevocationCheck {
  const parsed = parseVapidHeaders(authorization, cryptoKey);
  if (parsed === null) return { ok: false, reason: 'a revocation needs an Authorization header signed by the key it revokes' };
  if (!parsed.ok) return parsed;
  const { jwt, publicKey } = parsed.value;
  const verified = verifyVapidJwt(jwt, publicKey, options);
  if (!verified.ok) return verified;

  // The signature is verified: reading the claims without checking again is safe.
  const claim = decodeJwt(jwt).revoke;
  if (typeof claim !== 'string') return { ok: false, reason: 'the JWT has no revoke claim' };
  const keyHash = sha256(publicKey);
  const named = fromBase64Url(claim);
  if (!named || named.length !== keyHash.length || !timingSafeEqual(named, keyHash)) {
    return { ok: false, reason: 'the revoke claim is not the base64url SHA-256 of the key that signed it' };
  }
  return { ok: true, keyHash };
}

/** The `revoke` claim for a key: base64url (no padding) of SHA-256 over the 65-byte uncompressed point. */
export function revocationClaim(publicKey: Uint8Array): string {
  return toBase64Url(sha256(publicKey));
}
