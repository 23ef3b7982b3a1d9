/**
 * The key holder's side of a revocation (docs/security.md): when an application server's VAPID
 * private key may have leaked, it tells the push service to refuse that key from now on.
 * Irreversible over HTTP: afterwards, subscribe devices again with a new key.
 */
import { SignJWT } from 'jose';
import { fromBase64Flexible } from '../crypto/base64.js';
import { p256PrivateKeyObject } from '../crypto/p256.js';
import { vapidAuthorizationHeader } from '../crypto/vapid.js';
import { revocationClaim } from '../crypto/revocation.js';
import type { VapidDetails } from './sender.js';

/** Five minutes is plenty for one request, and a leaked revocation token is useless anyway. */
const REVOCATION_LIFETIME_SECONDS = 300;

/** The `vapid t=…, k=…` header that revokes `vapid.publicKey` at the push service of `origin`. */
export async function revocationAuthorization(origin: string, vapid: VapidDetails, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const publicKey = fromBase64Flexible(vapid.publicKey);
  const privateKey = fromBase64Flexible(vapid.privateKey);
  if (!publicKey || !privateKey) throw new TypeError('the VAPID keys must be base64url');
  const jwt = await new SignJWT({ revoke: revocationClaim(publicKey), ...(vapid.subject ? { sub: vapid.subject } : {}) })
    .setProtectedHeader({ typ: 'JWT', alg: 'ES256' })
    .setAudience(new URL(origin).origin)
    .setExpirationTime(nowSeconds + REVOCATION_LIFETIME_SECONDS)
    .sign(p256PrivateKeyObject({ publicKey, privateKey }));
  return vapidAuthorizationHeader(jwt, vapid.publicKey);
}

/** POSTs the revocation; resolves with the push service's status (200 revoked, 401 refused). */
export async function revokeSenderKey(origin: string, vapid: VapidDetails): Promise<{ status: number; body: string }> {
  const base = new URL(origin).origin;
  const response = await fetch(`${base}/v1/keys/revoke`, {
    method: 'POST',
    headers: { authorization: await revocationAuthorization(base, vapid) },
  });
  return { status: response.status, body: await response.text() };
}
