/**
 * What the console's routes share: their dependencies, the signed-in session of a request, and the
 * CSRF rule every unsafe request passes in `preHandler` (the sign-in route's token is bound to the
 * pre-session cookie, every other one's to the session).
 */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ConsoleRecords, Role } from '../accounts/console-records.js';
import { hashSessionToken, sameTokenHash } from '../accounts/session-token.js';
import { sessionOver, type PasswordChecker, type SessionLimits } from '../accounts/sign-in.js';
import type { AccountRecord, IdentityStore, SessionRecord } from '../accounts/store.js';
import type { Guard } from '../guard/guard.js';
import type { SourceResolver } from '../guard/source.js';
import type { SenderBlocklist } from '../push/revocation/blocklist.js';
import type { Store } from '../store/types.js';
import { readCookie, type CookieNames } from './cookies.js';
import type { CsrfTokens } from './csrf.js';
import { consoleErrors } from './errors.js';
import { isUnsafe } from './request-checks.js';

export interface ConsoleDeps {
  store: IdentityStore & { console: ConsoleRecords };
  passwords: PasswordChecker;
  sources: SourceResolver;
  csrf: CsrfTokens;
  cookies: CookieNames;
  /** The origin the console is opened at (Origin checks). */
  origin: () => string;
  /** The push endpoint origin: the only place test pushes and status checks may go. */
  pushOrigin: () => string;
  /** Console sessions: the console's idle and absolute limits. */
  sessions: Pick<SessionLimits, 'idleMs' | 'lifetimeMs'>;
  /** The accounts server's limits, for opening a session in the shared table. */
  accountSessions: SessionLimits;
  /** The push part's blocklist: a revocation here applies at once on this node. */
  blocklist: () => SenderBlocklist;
  pushStore: () => Store;
  guard: Guard;
  connectedHere: () => number;
  now: () => number;
  /** An audit line (key hashes, ban keys: public information; never a secret). */
  audit: (event: Record<string, unknown>, message: string) => void;
  onError?: (error: unknown) => void;
}

export interface SignedIn {
  session: SessionRecord;
  account: AccountRecord;
  roles: Role[];
}

/** Set by `resolveSession` for each API request; absent when not signed in. */
const signedInRequests = new WeakMap<FastifyRequest, SignedIn>();

/** The request's console session (its cookie), or null; a session past its limits is deleted. */
export async function resolveSession(deps: ConsoleDeps, request: FastifyRequest): Promise<SignedIn | null> {
  const tokenHash = hashSessionToken(readCookie(request.headers.cookie, deps.cookies.session));
  if (!tokenHash) return null;
  const session = await deps.store.sessionByTokenHash(tokenHash);
  // Only sessions the console opened: an accounts bearer token is no console cookie (session-kinds.ts).
  if (!session || !sameTokenHash(session.tokenHash, tokenHash) || session.kind !== 'console') return null;
  const now = deps.now();
  if (sessionOver(deps.sessions, session, now)) {
    await deps.store.deleteSession(session.accountId, session.id);
    return null;
  }
  const account = await deps.store.accountById(session.accountId);
  if (!account) return null;
  await deps.store.touchSession(session.id, now);
  const signedIn = { session, account, roles: await deps.store.console.rolesOf(account.id) };
  signedInRequests.set(request, signedIn);
  return signedIn;
}

/** The signed-in session, or 401 errno 610. */
export function signedIn(request: FastifyRequest): SignedIn {
  const found = signedInRequests.get(request);
  if (!found) throw consoleErrors.error('notSignedIn');
  return found;
}

export function operator(request: FastifyRequest): SignedIn {
  const found = signedIn(request);
  if (!found.roles.includes('operator')) throw consoleErrors.error('notOperator');
  return found;
}

/** Route config: the sign-in route's token is bound to the pre-session cookie. */
export const PRE_SESSION_ROUTE = { csrf: 'pre' } as const;

/** preHandler of every API route: the session, then for unsafe methods the CSRF token. */
export async function checkSessionAndToken(deps: ConsoleDeps, request: FastifyRequest): Promise<void> {
  const found = await resolveSession(deps, request);
  if (!isUnsafe(request.method)) return;
  const token = request.headers['x-csrf-token'];
  if ((request.routeOptions.config as { csrf?: string }).csrf === 'pre') {
    const preSession = readCookie(request.headers.cookie, deps.cookies.preSession);
    if (token === undefined) throw consoleErrors.error('csrfMissing');
    // No pre-session cookie, or a token made for another browser's: a login CSRF attempt.
    if (!preSession || deps.csrf.verify('pre', preSession, token) !== 'ok') throw consoleErrors.error('loginCsrf');
    return;
  }
  if (!found) throw consoleErrors.error('notSignedIn');
  const verdict = deps.csrf.verify('session', found.session.id, token);
  if (verdict === 'missing') throw consoleErrors.error('csrfMissing');
  if (verdict !== 'ok') throw consoleErrors.error('csrfInvalid');
}

/** The guard's source key of a request (login budgets count the client behind a trusted proxy). */
export function sourceKey(deps: ConsoleDeps, request: FastifyRequest): string {
  return deps.sources.resolve(request.socket.remoteAddress, request.headers['x-forwarded-for']).key;
}

/** A dangerous action: the password again, under the login budgets, or 403 errno 613 / 429. */
export async function confirmPassword(deps: ConsoleDeps, request: FastifyRequest, who: SignedIn, password: string): Promise<void> {
  const outcome = await deps.passwords.confirm(who.account, password, sourceKey(deps, request));
  if (outcome.kind === 'rateLimited') throw consoleErrors.error('rateLimited', { retryAfterSeconds: outcome.retryAfterSeconds });
  if (outcome.kind !== 'ok') throw consoleErrors.error('wrongPassword');
}

/** The body as `schema` wants it, else 400 errno 600 naming the field (never echoing a value). */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  throw consoleErrors.error('invalidRequest', { detail: field === '' ? 'the body must be a JSON object of the documented fields' : `${field} is missing or invalid` });
}
