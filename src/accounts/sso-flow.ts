/**
 * Single sign-on's server side (docs/sso.md): checking an authorize request against the registered
 * app, issuing the one-time code, exchanging it (PKCE S256) for a sealed recovery payload. The
 * payload carries a new accounts session token made for the relying app, sealed under that app's
 * key with its origin and expiry in the additional data; the token itself never leaves in clear.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ssoSessionId } from '../crypto/sso-logout-token.js';
import { sealRecoveryPacket, SSO_PAYLOAD_LIFETIME_SECONDS } from '../crypto/sso-packet.js';
import type { AccountsDeps } from './deps.js';
import { accountErrors } from './errors.js';
import { openSession } from './request-parts.js';
import { sessionOver } from './sign-in.js';
import type { SsoAppRecord, SsoCodeRecord } from './sso-records.js';
import type { SessionRecord } from './store.js';

/** A code is good for this long after the redirect: one browser hop and one back-channel call. */
export const SSO_CODE_LIFETIME_MS = 60_000;

const BASE64URL_43 = /^[A-Za-z0-9_-]{43}$/;
// RFC 7636: 43-128 characters of [A-Za-z0-9-._~].
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export const authorizeQuery = z
  .object({
    client_id: z.string().max(64),
    redirect_uri: z.string().max(2048),
    state: z.string().min(1).max(512).regex(/^[\x21-\x7e]+$/),
    code_challenge: z.string().max(128).optional(),
    code_challenge_method: z.string().max(16).optional(),
  })
  .strict();

export const tokenBody = z
  .object({ client_id: z.string().max(64), code: z.string().max(128), code_verifier: z.string().max(256), redirect_uri: z.string().max(2048) })
  .strict();

export async function registeredApp(deps: AccountsDeps, clientId: string): Promise<SsoAppRecord> {
  const app = await deps.store.sso.appById(clientId);
  if (!app) throw accountErrors.error('ssoUnknownClient');
  return app;
}

/** Checks an authorize request before anything is looked up for the session; answers the app. */
export async function checkAuthorize(deps: AccountsDeps, query: z.infer<typeof authorizeQuery>): Promise<SsoAppRecord & { challenge: string }> {
  const app = await registeredApp(deps, query.client_id);
  // Exact string match: no prefix, no normalisation, so no open redirect through a lookalike path.
  if (query.redirect_uri !== app.redirectUri) throw accountErrors.error('ssoRedirectMismatch');
  if (query.code_challenge_method !== 'S256' || !BASE64URL_43.test(query.code_challenge ?? '')) throw accountErrors.error('ssoPkceRequired');
  return { ...app, challenge: query.code_challenge as string };
}

/** A new one-time code (256 bits) for the app and session; only its hash is stored. */
export async function issueCode(deps: AccountsDeps, app: SsoAppRecord, challenge: string, session: SessionRecord): Promise<string> {
  const code = randomBytes(32).toString('base64url');
  const now = deps.now();
  await deps.store.sso.createCode(
    {
      codeHash: hashCode(code),
      clientId: app.clientId,
      redirectUri: app.redirectUri,
      codeChallenge: challenge,
      accountId: session.accountId,
      sessionId: session.id,
      expiresAt: now + SSO_CODE_LIFETIME_MS,
      usedAt: null,
    },
    now,
  );
  return code;
}

export function hashCode(code: string): Buffer {
  return createHash('sha256').update(code, 'utf8').digest();
}

export function redirectWithCode(redirectUri: string, code: string, state: string): string {
  const url = new URL(redirectUri);
  url.searchParams.set('code', code);
  url.searchParams.set('state', state);
  return url.toString();
}

/**
 * The back channel's exchange. The code is marked used before the verifier is checked, so a
 * wrong verifier burns it: one guess per code.
 */
export async function exchangeCode(deps: AccountsDeps, body: z.infer<typeof tokenBody>): Promise<{ packet: string; cipherId: string }> {
  const app = await registeredApp(deps, body.client_id);
  if (!BASE64URL_43.test(body.code)) throw accountErrors.error('ssoCodeInvalid');
  const now = deps.now();
  const consumed = await deps.store.sso.consumeCode(hashCode(body.code), now);
  if (consumed.kind !== 'fresh' || consumed.code.clientId !== app.clientId) throw accountErrors.error('ssoCodeInvalid');
  const code: SsoCodeRecord = consumed.code;
  if (code.expiresAt <= now) throw accountErrors.error('ssoCodeExpired');
  if (body.redirect_uri !== code.redirectUri) throw accountErrors.error('ssoRedirectMismatch');
  if (!VERIFIER.test(body.code_verifier) || !sameChallenge(code.codeChallenge, body.code_verifier)) throw accountErrors.error('ssoVerifierMismatch');
  // The session the code came from must still be live: signing out in between ends the sign-in.
  const origin = (await deps.store.listSessions(code.accountId)).find((session) => session.id === code.sessionId);
  if (!origin || sessionOver(deps.sessions, origin, now)) throw accountErrors.error('invalidSession');
  return mintPayload(deps, app, code.accountId, code.sessionId);
}

function sameChallenge(challenge: string, verifier: string): boolean {
  const expected = Buffer.from(challenge, 'utf8');
  const actual = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'), 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * A new accounts session for the relying app, its token sealed for the app's back end only, and
 * recorded as granted from the browser's session `originSessionId` (whose sign-out ends it).
 */
export async function mintPayload(deps: AccountsDeps, app: SsoAppRecord, accountId: string, originSessionId: string): Promise<{ packet: string; cipherId: string }> {
  const key = deps.ssoKeys.sealingKey(app.clientId);
  if (!key) throw accountErrors.error('ssoNoKey');
  const now = deps.now();
  await keepFewMinted(deps, accountId, originSessionId, app.clientId, now);
  const { sessionId, sessionToken } = await openSession(deps, accountId, now);
  await deps.store.sso.addGrant({ accountId, clientId: app.clientId, sessionId, originSessionId, sid: ssoSessionId(sessionToken), createdAt: now }, now - deps.sessions.lifetimeMs);
  const exp = Math.floor(now / 1000) + SSO_PAYLOAD_LIFETIME_SECONDS;
  return { packet: sealRecoveryPacket(key.key, key.cipherId, app.origin, sessionToken, exp), cipherId: key.cipherId };
}

/** Sessions minted for one app from one browser session that stay live when another is minted. */
export const MINTED_KEPT_PER_APP = 4;

/**
 * Ends all but the newest minted sessions of this browser session and app. Without it each frame
 * or redirect sign-in would add a session, and past the account's session cap the oldest, often
 * the browser's own accounts session, would be dropped. A few stay, so a payload minted a moment
 * before another (two tabs, a retry, a key rotation in between) still opens.
 */
async function keepFewMinted(deps: AccountsDeps, accountId: string, originSessionId: string, clientId: string, now: number): Promise<void> {
  // Newest first; of equal times the later row (stores answer in insertion order) counts as newer.
  const earlier = (await deps.store.sso.takeGrants(accountId, originSessionId, clientId)).reverse().sort((a, b) => b.createdAt - a.createdAt);
  for (const kept of earlier.slice(0, MINTED_KEPT_PER_APP)) await deps.store.sso.addGrant(kept, now - deps.sessions.lifetimeMs);
  for (const ended of earlier.slice(MINTED_KEPT_PER_APP)) await deps.store.deleteSession(accountId, ended.sessionId);
}
