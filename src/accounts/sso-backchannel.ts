/**
 * Back-channel sign-out (docs/sso.md, OpenID Connect Back-Channel Logout 1.0): when a browser's
 * accounts session ends, the sessions minted from it for relying apps end too, and each app that
 * registered a back-channel URI is told by a server-to-server POST of a signed logout token.
 * The POSTs run after the sign-out has been answered and are retried a few times; a node that
 * stops meanwhile drops what it had not delivered (the app's own session lifetime is the bound).
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_LIFETIME_SECONDS, LOGOUT_TOKEN_TYPE } from '../crypto/sso-logout-token.js';
import type { AccountsDeps } from './deps.js';
import type { SigningKeyRing } from './signing-keys.js';

/** After the first attempt: three more, spread over about twelve seconds. */
export const BACKCHANNEL_RETRY_DELAYS_MS: readonly number[] = [500, 2000, 10_000];
const ATTEMPT_TIMEOUT_MS = 5000;

export interface LogoutTokenClaims {
  issuer: string;
  clientId: string;
  accountId: string;
  sid: string;
  nowMs: number;
}

/** A logout token: iss, aud, iat, exp, jti, sub, sid and the back-channel event; no nonce. */
export function signLogoutToken(ring: SigningKeyRing, claims: LogoutTokenClaims): Promise<string> {
  const { kid, privateKey } = ring.current();
  const iat = Math.floor(claims.nowMs / 1000);
  return new SignJWT({ sid: claims.sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
    .setProtectedHeader({ alg: 'ES256', kid, typ: LOGOUT_TOKEN_TYPE })
    .setIssuer(claims.issuer)
    .setAudience(claims.clientId)
    .setSubject(claims.accountId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + LOGOUT_TOKEN_LIFETIME_SECONDS)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(privateKey);
}

export interface BackchannelOptions {
  fetch?: typeof fetch;
  retryDelaysMs?: readonly number[];
  /** A delivery that failed every attempt (no token, no account id: the app and why). */
  onUndelivered?: (clientId: string, reason: string) => void;
}

export class BackchannelSignOut {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly deps: AccountsDeps,
    private readonly options: BackchannelOptions = {},
  ) {}

  /**
   * Ends the sessions minted from `originSessionId` and starts telling their apps; resolves once
   * the sessions are gone, not when the apps have answered.
   */
  async signedOut(accountId: string, originSessionId: string): Promise<void> {
    const grants = await this.deps.store.sso.takeGrants(accountId, originSessionId);
    for (const grant of grants) {
      await this.deps.store.deleteSession(accountId, grant.sessionId);
      const app = await this.deps.store.sso.appById(grant.clientId);
      if (!app?.backchannelLogoutUri) continue;
      const token = await signLogoutToken(this.deps.signingKeys, { issuer: this.deps.assertion().issuer, clientId: app.clientId, accountId, sid: grant.sid, nowMs: this.deps.now() });
      this.track(this.deliver(app.clientId, app.backchannelLogoutUri, token));
    }
  }

  /** Every delivery still being attempted (tests and an orderly stop wait for them). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  private async deliver(clientId: string, uri: string, token: string): Promise<void> {
    const send = this.options.fetch ?? fetch;
    const delays = this.options.retryDelaysMs ?? BACKCHANNEL_RETRY_DELAYS_MS;
    let reason = '';
    for (let attempt = 0; attempt <= delays.length; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, delays[attempt - 1]).unref());
      try {
        const answer = await send(uri, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: token }).toString(),
          redirect: 'error',
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        await answer.arrayBuffer().catch(() => undefined);
        // 200 is the spec's success; a 400 is the app refusing this token, which a retry cannot change.
        if (answer.status === 200 || answer.status === 204) return;
        reason = `answered ${answer.status}`;
        if (answer.status === 400) break;
      } catch (error) {
        reason = (error as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable';
      }
    }
    this.options.onUndelivered?.(clientId, reason);
  }
}
