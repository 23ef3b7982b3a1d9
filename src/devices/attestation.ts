/**
 * The attestation gate (devices.attestation, docs/devices.md): a short-lived JWT from an
 * attestation service, verified by key (a JWKS URL, fetched and cached by jose, or an HS256
 * shared secret), `exp` and `iat` required, issuer, audience and app id checked. Firebase App
 * Check is this with its issuer, audience and JWKS filled in from the project number. The caller
 * answers every refusal the same way; the reason is only for logs and metrics.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../config/load.js';
import type { AttestationConfig } from '../config/devices.js';

export const FIREBASE_APP_CHECK_JWKS = 'https://firebaseappcheck.googleapis.com/v1/jwks';
const FIREBASE_ISSUER = 'https://firebaseappcheck.googleapis.com/';
const MAX_TOKEN_CHARS = 8192;

export type AttestationReason =
  | 'missing'
  | 'malformed'
  | 'wrong key or signature'
  | 'expired'
  | 'wrong issuer'
  | 'wrong audience'
  | 'wrong app'
  | 'too long lived'
  | 'keys unavailable';

export type AttestationVerdict = { ok: true; appId: string } | { ok: false; reason: AttestationReason };

interface Resolved {
  key: JWTVerifyGetKey | Uint8Array;
  algorithms: string[];
  issuer: string;
  audience: string;
}

export class AttestationGate {
  private readonly resolved: Resolved;

  constructor(
    private readonly config: AttestationConfig,
    private readonly options: { now: () => number; refused?: (reason: AttestationReason) => void },
  ) {
    this.resolved = resolve(config);
  }

  /** Whether the gate stands on this listener. */
  guards(listener: 'devices'): boolean {
    return this.config.listeners.includes(listener);
  }

  /** The hello hook's answer: true or false, the reason reported, never a rejection. */
  async admit(token: unknown): Promise<boolean> {
    return (await this.check(token)).ok;
  }

  async check(token: unknown): Promise<AttestationVerdict> {
    const verdict = await this.verify(token);
    if (!verdict.ok) this.options.refused?.(verdict.reason);
    return verdict;
  }

  private async verify(token: unknown): Promise<AttestationVerdict> {
    if (token === undefined || token === null || token === '') return { ok: false, reason: 'missing' };
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return { ok: false, reason: 'malformed' };
    const { key, algorithms, issuer, audience } = this.resolved;
    let payload: JWTPayload;
    try {
      const options = { algorithms, issuer, audience, requiredClaims: ['exp', 'iat'], currentDate: new Date(this.options.now()), clockTolerance: 30 };
      ({ payload } = key instanceof Uint8Array ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
    } catch (error) {
      return { ok: false, reason: reasonOf(error) };
    }
    if ((payload.exp as number) - (payload.iat as number) > this.config.maxLifetimeSeconds) return { ok: false, reason: 'too long lived' };
    const appId = payload[this.config.appClaim];
    if (typeof appId !== 'string' || (this.config.appIds.length > 0 && !this.config.appIds.includes(appId))) return { ok: false, reason: 'wrong app' };
    return { ok: true, appId };
  }
}

/** The gate the configuration asks for, or null when it stands on no listener; ConfigError when incomplete. */
export function attestationGateFromConfig(config: AttestationConfig, options: ConstructorParameters<typeof AttestationGate>[1]): AttestationGate | null {
  if (config.listeners.length === 0) return null;
  return new AttestationGate(config, options);
}

function resolve(config: AttestationConfig): Resolved {
  const fail = (message: string): never => {
    throw new ConfigError(`devices.attestation: ${message}`);
  };
  if (config.verifier === 'secret') {
    if (config.secret === null) fail('verifier = "secret" needs secret');
    return { key: new TextEncoder().encode(config.secret as string), algorithms: ['HS256'], issuer: config.issuer ?? fail('needs issuer'), audience: config.audience ?? fail('needs audience') };
  }
  const cache = { cacheMaxAge: config.jwksCacheSeconds * 1000, cooldownDuration: 30_000, timeoutDuration: 5000 };
  if (config.verifier === 'firebase-app-check') {
    const project = config.projectNumber ?? fail('verifier = "firebase-app-check" needs projectNumber');
    return {
      key: createRemoteJWKSet(new URL(config.jwksUrl ?? FIREBASE_APP_CHECK_JWKS), cache),
      algorithms: ['RS256'],
      issuer: config.issuer ?? `${FIREBASE_ISSUER}${project}`,
      audience: config.audience ?? `projects/${project}`,
    };
  }
  const url = config.jwksUrl ?? fail('verifier = "jwks" needs jwksUrl');
  return {
    key: createRemoteJWKSet(new URL(url), cache),
    algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'],
    issuer: config.issuer ?? fail('needs issuer'),
    audience: config.audience ?? fail('needs audience'),
  };
}

function reasonOf(error: unknown): AttestationReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'wrong issuer';
    if (error.claim === 'aud') return 'wrong audience';
    return 'malformed';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JOSEAlgNotAllowed) return 'wrong key or signature';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error instanceof TypeError) return 'keys unavailable';
  return 'malformed';
}
