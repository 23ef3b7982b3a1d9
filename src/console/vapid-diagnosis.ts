/**
 * "Why does Herald answer 401 errno 109 to my sender?": the console pastes the sender's
 * Authorization header (or a JWT and its key) and runs the very checks the endpoint runs
 * (src/crypto/vapid.ts), then says which one failed: the format, the signature, aud, exp or sub.
 */
import { fromBase64Flexible, fromBase64Url } from '../crypto/base64.js';
import { parseVapidHeaders, verifyVapidJwt } from '../crypto/vapid.js';

export type CheckName = 'format' | 'signature' | 'aud' | 'exp' | 'sub';
export type CheckState = 'ok' | 'failed' | 'not checked' | 'warning';

export interface Diagnosis {
  /** Whether Herald's endpoint would accept it. */
  accepted: boolean;
  checks: Array<{ name: CheckName; state: CheckState; detail: string }>;
  /** The decoded claims, when the middle part is base64url JSON (shown even when unsigned). */
  claims: Record<string, unknown> | null;
  audience: string;
}

const ORDER: readonly CheckName[] = ['format', 'signature', 'aud', 'exp', 'sub'];

export interface DiagnosisInput {
  /** The whole Authorization header (`vapid t=…, k=…`, or `WebPush <jwt>` with cryptoKey). */
  authorization?: string | undefined;
  cryptoKey?: string | undefined;
  /** Or the JWT and its base64url public key apart. */
  jwt?: string | undefined;
  publicKey?: string | undefined;
}

export function diagnoseVapid(input: DiagnosisInput, audience: string, nowSeconds: number, clockSkewSeconds: number): Diagnosis {
  let jwt: string;
  let key: Buffer | null;
  if (input.authorization !== undefined) {
    const parsed = parseVapidHeaders(input.authorization, input.cryptoKey);
    if (parsed === null || !parsed.ok) return failedAt('format', parsed?.reason ?? 'the Authorization header is empty', null, audience);
    ({ jwt, publicKey: key } = parsed.value);
  } else {
    jwt = (input.jwt ?? '').trim();
    key = fromBase64Flexible((input.publicKey ?? '').trim());
    if (!key) return failedAt('format', 'the public key is not base64url', claimsOf(jwt), audience);
  }
  const claims = claimsOf(jwt);
  const result = verifyVapidJwt(jwt, key, { audience, nowSeconds, clockSkewSeconds });
  if (!result.ok) return failedAt(classify(result.reason), result.reason, claims, audience);
  const sub = result.claims.sub;
  const subOk = sub !== undefined && /^(mailto:|https:)/.test(sub);
  const checks = ORDER.map((name) => ({ name, state: 'ok' as CheckState, detail: 'passed' }));
  checks[4] = subOk
    ? { name: 'sub', state: 'ok', detail: 'a mailto: or https: contact' }
    : { name: 'sub', state: 'warning', detail: 'no mailto: or https: contact (RFC 8292 asks for one; Herald accepts it without)' };
  return { accepted: true, checks, claims, audience };
}

function classify(reason: string): CheckName {
  if (/signature|P-256|key/.test(reason)) return 'signature';
  if (/\baud\b/.test(reason)) return 'aud';
  if (/\bexp\b|expired|nbf/.test(reason)) return 'exp';
  if (/\bsub\b/.test(reason)) return 'sub';
  return 'format';
}

function failedAt(name: CheckName, reason: string, claims: Record<string, unknown> | null, audience: string): Diagnosis {
  const at = ORDER.indexOf(name);
  const checks = ORDER.map((each, index) => ({
    name: each,
    state: (index < at ? 'ok' : index === at ? 'failed' : 'not checked') as CheckState,
    detail: index < at ? 'passed' : index === at ? reason : 'not checked: an earlier check failed',
  }));
  return { accepted: false, checks, claims, audience };
}

function claimsOf(jwt: string): Record<string, unknown> | null {
  const middle = jwt.split('.')[1];
  const bytes = middle === undefined ? null : fromBase64Url(middle);
  if (!bytes) return null;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
