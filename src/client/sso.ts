/**
 * The relying-party kit of single sign-on (docs/sso.md), the back-end half: open a recovery
 * payload (cipherId, AAD origin, expiry, replay), check the token is 64 hex, fetch the profile over
 * the back channel and verify its signature against the accounts server's JWKS. The cross-site
 * redirect flow (start, then finish with the code) ends in the same checks. Answers are
 * `{status: 204, profile}` or `{status, body}` in Herald's envelope, for any web framework.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { fromBase64Url } from '../crypto/base64.js';
import { BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_LIFETIME_SECONDS, LOGOUT_TOKEN_TYPE, ssoSessionId } from '../crypto/sso-logout-token.js';
import { CIPHER_ID, openRecoveryPacket, SSO_KEY_BYTES } from '../crypto/sso-packet.js';
import { errorEnvelope, type EnvelopeDefinition, type ErrorEnvelope, type HttpError } from '../http/errors.js';
import { ssoErrors, SSO_ERRORS_URL, type SsoErrorCode } from './sso-errors.js';
import { MemoryReplayCache, type ReplayCache } from './sso-replay.js';

export { ssoErrors } from './sso-errors.js';
export { MemoryReplayCache, RedisReplayCache, replayCacheFor, type RedisSetNx, type ReplayCache } from './sso-replay.js';

export interface SsoProfile {
  /** The account id (32 hex). */
  sub: string;
  email: string;
  generation: number;
  keysChangedAt: number;
}

export type SsoOutcome =
  | {
      status: 204;
      profile: SsoProfile;
      /** The accounts session made for this app (keep it server-side, or end it). */
      sessionToken: string;
      /** The `sid` a logout token will name for this sign-in: keep it with the app's own session. */
      sid: string;
    }
  | { status: number; body: ErrorEnvelope };

/** 200: end the app's sessions of `sub` (only the one of `sid` when given); else reply status and body. */
export type LogoutOutcome = { status: 200; sub: string; sid: string | null } | { status: number; body: ErrorEnvelope };

export interface RelyingPartyOptions {
  /** The accounts server as this back end reaches it (the back channel). */
  accountsUrl: string;
  /** This app's origin, as registered (`--origin`): the payload's AAD. */
  origin: string;
  clientId: string;
  /** cipherId → base64url key, every key `herald admin accounts sso-app add|rotate-key` printed and still in use. */
  keys: Readonly<Record<string, string>>;
  /** The profile's expected `iss`; default the accounts URL's origin. */
  issuer?: string;
  replay?: ReplayCache;
  fetch?: typeof fetch;
  now?: () => number;
  /** Per back-channel call; default 5 s. */
  timeoutMs?: number;
}

const TOKEN = /^[0-9a-f]{64}$/;
const JWKS_TTL_MS = 5 * 60_000;

class Refusal extends Error {
  constructor(readonly failure: HttpError<SsoErrorCode, EnvelopeDefinition>) {
    super(failure.message);
  }
}
const refuse = (code: SsoErrorCode, detail?: string): never => {
  throw new Refusal(ssoErrors.error(code, detail ? { detail } : {}));
};

export class SsoRelyingParty {
  private readonly keys = new Map<string, Buffer>();
  private readonly replay: ReplayCache;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private jwks: { set: ReturnType<typeof createLocalJWKSet>; at: number } | undefined;

  constructor(private readonly options: RelyingPartyOptions) {
    for (const [cipherId, text] of Object.entries(options.keys)) this.addKey(cipherId, text);
    this.now = options.now ?? Date.now;
    this.replay = options.replay ?? new MemoryReplayCache(this.now);
    this.fetch = options.fetch ?? fetch;
  }

  /**
   * Accepts payloads sealed under one more key (a rotation: `sso-app rotate-key` printed it),
   * without a restart; the keys held before keep opening until `dropKey`.
   */
  addKey(cipherId: string, base64urlKey: string): void {
    const key = fromBase64Url(base64urlKey);
    if (!CIPHER_ID.test(cipherId) || !key || key.length !== SSO_KEY_BYTES) throw new Error(`SSO key ${cipherId} must be a 16-hex cipherId and 32 bytes of base64url`);
    this.keys.set(cipherId, key);
  }

  /** Stops accepting a retired key (once its payloads, 60 s at most, are gone). */
  dropKey(cipherId: string): void {
    this.keys.delete(cipherId);
  }

  /** The body the browser posted (`{recoveryPayload: {packet, cipherId}}`) → signed in, or why not. */
  async recover(body: unknown): Promise<SsoOutcome> {
    return this.answer(async () => {
      const payload = (body as { recoveryPayload?: unknown } | null)?.recoveryPayload as { packet?: unknown; cipherId?: unknown } | undefined;
      if (!payload || typeof payload !== 'object' || typeof payload.packet !== 'string' || typeof payload.cipherId !== 'string') return refuse('malformedPayload');
      return this.open(payload.packet, payload.cipherId);
    });
  }

  /**
   * The start of the cross-site flow: where to send the browser, and the state and PKCE verifier
   * to keep for this browser (an HttpOnly cookie of the app's own, ≤ 10 min) until it comes back.
   */
  startRedirect(redirectUri: string): { url: string; state: string; verifier: string } {
    const state = randomBytes(16).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL('/v1/sso/authorize', this.options.accountsUrl);
    url.searchParams.set('client_id', this.options.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
    return { url: url.toString(), state, verifier };
  }

  /** The browser came back with `code` and `state`; `kept` is what startRedirect gave this browser. */
  async finishRedirect(back: { code?: unknown; state?: unknown }, kept: { state: string; verifier: string } | null, redirectUri: string): Promise<SsoOutcome> {
    return this.answer(async () => {
      const state = typeof back.state === 'string' ? Buffer.from(back.state) : Buffer.alloc(0);
      const expected = Buffer.from(kept?.state ?? '');
      if (!kept || state.length !== expected.length || expected.length === 0 || !timingSafeEqual(state, expected)) return refuse('stateMismatch');
      if (typeof back.code !== 'string') return refuse('codeRefused', 'no code');
      const answer = await this.call('/v1/sso/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: this.options.clientId, code: back.code, code_verifier: kept.verifier, redirect_uri: redirectUri }),
      });
      const body = (await answer.json().catch(() => null)) as { recoveryPayload?: { packet?: unknown; cipherId?: unknown }; errno?: unknown } | null;
      if (answer.status >= 500) return refuse('accountsUnreachable', `the token endpoint answered ${answer.status}`);
      if (answer.status !== 200) return refuse('codeRefused', `accounts errno ${typeof body?.errno === 'number' ? body.errno : answer.status}`);
      const payload = body?.recoveryPayload;
      if (!payload || typeof payload.packet !== 'string' || typeof payload.cipherId !== 'string') return refuse('malformedPayload');
      return this.open(payload.packet, payload.cipherId);
    });
  }

  private async open(packet: string, cipherId: string): Promise<SsoOutcome> {
    const key = this.keys.get(cipherId);
    if (!key) return refuse('unknownCipher');
    const opened = openRecoveryPacket(key, cipherId, this.options.origin, packet, this.now());
    if (opened === 'malformed') return refuse('malformedPayload');
    if (opened === 'unopenable') return refuse('packetUnopenable');
    if (opened === 'expired') return refuse('payloadExpired');
    if (await this.once(createHash('sha256').update(packet).digest('base64url'), opened.exp * 1000)) return refuse('payloadReplayed');
    if (!TOKEN.test(opened.token)) return refuse('tokenMalformed');
    const profile = await this.profile(opened.token);
    return { status: 204, profile, sessionToken: opened.token, sid: ssoSessionId(opened.token) };
  }

  /** true for a replay; a cache that cannot answer refuses (fails closed) rather than letting one through. */
  private async once(key: string, expiresAtMs: number): Promise<boolean> {
    try {
      return await this.replay.seen(key, expiresAtMs);
    } catch {
      return refuse('replayCacheUnavailable');
    }
  }

  /**
   * The accounts server's back-channel sign-out (`POST` of `logout_token=…`, form-encoded): the
   * token's signature (the JWKS), iss, aud (this client id), typ, iat freshness, the event, no
   * nonce, jti used once. 200 with who and which sign-in to end, or 400 (reply it as is, no-store).
   */
  async verifyLogout(body: unknown): Promise<LogoutOutcome> {
    return this.answerLogout(async () => {
      const token = typeof body === 'string' ? new URLSearchParams(body).get('logout_token') : (body as { logout_token?: unknown } | null)?.logout_token;
      if (typeof token !== 'string' || token.length > 8192) return refuse('logoutTokenInvalid', 'no logout_token');
      const claims = await this.verifiedLogoutClaims(token);
      const expires = (claims.exp ?? 0) * 1000;
      if (await this.once(`jti:${claims.jti as string}`, expires)) return refuse('logoutTokenReplayed');
      return { status: 200 as const, sub: claims.sub as string, sid: typeof claims.sid === 'string' ? claims.sid : null };
    });
  }

  private async verifiedLogoutClaims(token: string): Promise<JWTPayload> {
    const issuer = this.options.issuer ?? new URL(this.options.accountsUrl).origin;
    for (const fresh of [false, true]) {
      try {
        const { payload } = await jwtVerify(token, await this.keySet(fresh), {
          algorithms: ['ES256'],
          issuer,
          audience: this.options.clientId,
          typ: LOGOUT_TOKEN_TYPE,
          requiredClaims: ['iat', 'exp', 'jti', 'sub'],
          maxTokenAge: LOGOUT_TOKEN_LIFETIME_SECONDS,
          clockTolerance: 5,
          currentDate: new Date(this.now()),
        });
        const events = payload.events as Record<string, unknown> | undefined;
        const event = events && typeof events === 'object' ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
        if (!event || typeof event !== 'object') return refuse('logoutTokenInvalid', 'not a back-channel logout event');
        // Prohibited by the spec, so an ID token can never pass for a logout token.
        if ('nonce' in payload) return refuse('logoutTokenInvalid', 'a nonce is present');
        if (typeof payload.iat !== 'number' || payload.iat * 1000 > this.now() + 5000) return refuse('logoutTokenInvalid', 'iat in the future');
        return payload;
      } catch (error) {
        if (error instanceof Refusal) throw error;
        if (!fresh && (error as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY') continue;
        return refuse('logoutTokenInvalid', (error as { code?: string }).code ?? 'does not verify');
      }
    }
    return refuse('logoutTokenInvalid');
  }

  private async profile(token: string): Promise<SsoProfile> {
    const answer = await this.call('/v1/profile', { headers: { authorization: `Bearer ${token}` } });
    if (answer.status === 401) return refuse('sessionRefused');
    if (answer.status !== 200) return refuse('accountsUnreachable', `the profile endpoint answered ${answer.status}`);
    const jwt = await answer.text();
    const issuer = this.options.issuer ?? new URL(this.options.accountsUrl).origin;
    for (const fresh of [false, true]) {
      try {
        const { payload } = await jwtVerify(jwt, await this.keySet(fresh), { algorithms: ['ES256'], issuer, currentDate: new Date(this.now()) });
        const { sub, email, generation, keys_changed_at: keysChangedAt } = payload;
        if (typeof sub !== 'string' || typeof email !== 'string' || typeof generation !== 'number' || typeof keysChangedAt !== 'number') return refuse('profileInvalid');
        return { sub, email, generation, keysChangedAt };
      } catch (error) {
        if (error instanceof Refusal) throw error;
        // An unknown kid may be a key rotated in since the JWKS was read: read it once more.
        if (!fresh && (error as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY') continue;
        return refuse('profileInvalid');
      }
    }
    return refuse('profileInvalid');
  }

  private async keySet(fresh: boolean): Promise<ReturnType<typeof createLocalJWKSet>> {
    if (!fresh && this.jwks && this.now() - this.jwks.at < JWKS_TTL_MS) return this.jwks.set;
    const answer = await this.call('/.well-known/jwks.json', {});
    if (answer.status !== 200) return refuse('accountsUnreachable', `the JWKS answered ${answer.status}`);
    const keys = (await answer.json().catch(() => null)) as JSONWebKeySet | null;
    if (!keys || !Array.isArray(keys.keys)) return refuse('accountsUnreachable', 'the JWKS is malformed');
    this.jwks = { set: createLocalJWKSet(keys), at: this.now() };
    return this.jwks.set;
  }

  private async call(pathname: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetch(new URL(pathname, this.options.accountsUrl), { ...init, redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
    } catch {
      return refuse('accountsUnreachable');
    }
  }

  private async answerLogout(work: () => Promise<LogoutOutcome>): Promise<LogoutOutcome> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return { status: error.failure.status, body: errorEnvelope(error.failure, SSO_ERRORS_URL) };
    }
  }

  private async answer(work: () => Promise<SsoOutcome>): Promise<SsoOutcome> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return { status: error.failure.status, body: errorEnvelope(error.failure, SSO_ERRORS_URL) };
    }
  }
}
