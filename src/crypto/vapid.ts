/**
 * VAPID (RFC 8292): application servers identify themselves with an ES256 JWT and its P-256 key.
 * Verification sits on the endpoint's hot path and faces hostile input, so it never throws and
 * checks only what RFC 8292 requires, with Node's ECDSA directly rather than a general JWT stack.
 */
import { createHash, sign, verify } from 'node:crypto';
import { fromBase64Flexible, fromBase64Url, toBase64Url } from './base64.js';
import { generateP256KeyPair, p256PrivateKeyObject, p256PublicKeyObject } from './p256.js';

export { isP256PublicKey } from './p256.js';
export { parseVapidHeaders, type VapidHeaders } from './vapid-headers.js';

export type VapidClaims = { aud: string; exp: number; sub?: string };

export type VapidVerification = { ok: true; claims: VapidClaims } | { ok: false; reason: string };

const DEFAULT_MAX_LIFETIME_SECONDS = 24 * 60 * 60;
const DEFAULT_CLOCK_SKEW_SECONDS = 60;
const SIGNATURE_LENGTH = 64;
// Far above any real VAPID JWT; bounds the work a hostile sender can ask of JSON.parse.
const MAX_JWT_LENGTH = 8192;

export function generateVapidKeyPair(): { publicKey: string; privateKey: string } {
  const pair = generateP256KeyPair();
  return { publicKey: toBase64Url(pair.publicKey), privateKey: toBase64Url(pair.privateKey) };
}

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

export function signVapidJwt(options: {
  audience: string;
  subject?: string;
  expiresAt: number;
  publicKey: string;
  privateKey: string;
}): string {
  if (!Number.isSafeInteger(options.expiresAt)) throw new TypeError('expiresAt must be an integer number of seconds');
  const publicKey = fromBase64Flexible(options.publicKey);
  const privateKey = fromBase64Flexible(options.privateKey);
  if (!publicKey || !privateKey) throw new TypeError('the VAPID keys must be base64url');
  const keyObject = p256PrivateKeyObject({ publicKey, privateKey });

  const header = { typ: 'JWT', alg: 'ES256' };
  const claims: VapidClaims = { aud: options.audience, exp: options.expiresAt };
  if (options.subject !== undefined) claims.sub = options.subject;
  const signingInput = `${encodeJson(header)}.${encodeJson(claims)}`;
  const signature = sign('sha256', Buffer.from(signingInput, 'ascii'), { key: keyObject, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${toBase64Url(signature)}`;
}

export function vapidAuthorizationHeader(jwt: string, publicKey: string): string {
  return `vapid t=${jwt}, k=${publicKey}`;
}

export function verifyVapidJwt(
  jwt: string,
  publicKey: Buffer,
  options: { audience: string; nowSeconds: number; maxLifetimeSeconds?: number; clockSkewSeconds?: number },
): VapidVerification {
  try {
    return verifyUnsafe(jwt, publicKey, options);
  } catch {
    // Every branch below already returns a reason; this only guards against the unforeseen.
    return fail('the JWT could not be verified');
  }
}

function verifyUnsafe(
  jwt: string,
  publicKey: Buffer,
  options: { audience: string; nowSeconds: number; maxLifetimeSeconds?: number; clockSkewSeconds?: number },
): VapidVerification {
  if (typeof jwt !== 'string' || jwt.length > MAX_JWT_LENGTH) return fail('the JWT is missing or too long');
  const parts = jwt.split('.');
  if (parts.length !== 3) return fail('the JWT does not have three parts');
  const [encodedHeader = '', encodedClaims = '', encodedSignature = ''] = parts;

  const header = decodeJsonObject(encodedHeader);
  if (!header) return fail('the JWT header is not base64url JSON');
  if (header.alg !== 'ES256') return fail('the JWT alg must be ES256');
  // An extension we do not understand must not be silently ignored (RFC 7515 §4.1.11).
  if (header.crit !== undefined) return fail('the JWT header has crit extensions');

  const signature = fromBase64Url(encodedSignature);
  if (!signature || signature.length !== SIGNATURE_LENGTH) return fail('the JWT signature is not 64 bytes (ES256 R‖S)');
  const keyObject = p256PublicKeyObject(publicKey);
  if (!keyObject) return fail('the key is not a P-256 public key');
  const signingInput = Buffer.from(`${encodedHeader}.${encodedClaims}`, 'latin1');
  if (!verify('sha256', signingInput, { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature)) {
    return fail('the JWT signature does not verify with the key');
  }

  const claims = decodeJsonObject(encodedClaims);
  if (!claims) return fail('the JWT claims are not base64url JSON');
  const { aud, exp, sub, nbf } = claims;
  if (typeof aud !== 'string') return fail('the JWT has no aud claim');
  if (aud !== options.audience) return fail(`the JWT aud ${JSON.stringify(aud.slice(0, 100))} is not this push service's origin`);
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return fail('the JWT has no numeric exp claim');
  if (sub !== undefined && typeof sub !== 'string') return fail('the JWT sub claim is not a string');

  const now = options.nowSeconds;
  const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const maxLifetime = options.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
  // A NaN here would make every time comparison below false, and so pass any exp.
  if (![now, skew, maxLifetime].every(Number.isFinite)) return fail('the verifier was given no valid clock');
  if (exp <= now - skew) return fail('the JWT has expired');
  // RFC 8292 §2: exp MUST NOT be more than 24 hours from the time of the request. The skew
  // forgives a sender's slow clock on the expired side only, never a longer lifetime.
  if (exp - now > maxLifetime) return fail(`the JWT exp is more than ${maxLifetime} seconds ahead`);
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + skew)) return fail('the JWT is not valid yet (nbf)');

  return { ok: true, claims: sub === undefined ? { aud, exp } : { aud, exp, sub } };
}

function encodeJson(value: object): string {
  return toBase64Url(Buffer.from(JSON.stringify(value), 'utf8'));
}

function decodeJsonObject(encoded: string): Record<string, unknown> | null {
  // JWS uses unpadded base64url; the signature already covers the exact text, so strictness here
  // only means refusing spellings no JWT library produces.
  const bytes = fromBase64Url(encoded);
  if (!bytes) return null;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return value as Record<string, unknown>;
}

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
