/**
 * Signing in and out of the console, and the account's sessions:
 *   GET    /console/api/session        who is signed in, and a CSRF token for the next request
 *   POST   /console/api/session        sign in (pre-session token) → a new session cookie
 *   DELETE /console/api/session        sign out: the session ends on the server
 *   GET    /console/api/sessions       the account's sessions, a page at a time (?cursor, ?limit ≤ 100)
 *   DELETE /console/api/sessions/:id   end one
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccountRecord } from '../accounts/store.js';
import { z } from 'zod';
import { MAX_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { liveSince, openSession } from '../accounts/sign-in.js';
import { readCookie, setCookie } from './cookies.js';
import { parseBody, PRE_SESSION_ROUTE, signedIn, sourceKey, type ConsoleDeps, type SignedIn } from './context.js';
import { consoleErrors } from './errors.js';
import { pageQuery, storePage, timeKeyCodec } from './paging.js';

const signInBody = z.object({ email: z.string().max(254), password: z.string().min(1).max(MAX_PASSWORD_LENGTH * 4) }).strict();
const PRE_SESSION_PATTERN = /^[0-9a-f]{32}$/;
const PRE_SESSION_SECONDS = 3600;
const sessionCursor = timeKeyCodec('sessions');

export function accountView(who: SignedIn): { id: string; email: string; roles: string[]; sessionId: string } {
  return { id: who.account.id, email: who.account.email, roles: who.roles, sessionId: who.session.id };
}

export function registerSessionRoutes(scope: FastifyInstance, deps: ConsoleDeps): void {
  registerSignIn(scope, deps);
  registerSessionList(scope, deps);
}

/** GET, POST and DELETE /session: who is signed in (or a pre-session), sign in, sign out. */
function registerSignIn(scope: FastifyInstance, deps: ConsoleDeps): void {
  const { cookies } = deps;
  scope.get('/session', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const found = currentOrNull(request);
    if (found) return { account: accountView(found), csrfToken: deps.csrf.issue('session', found.session.id) };
    // Not signed in: a pre-session (a random cookie the sign-in token is bound to).
    let preSession = readCookie(request.headers.cookie, cookies.preSession);
    if (!preSession || !PRE_SESSION_PATTERN.test(preSession)) {
      preSession = randomBytes(16).toString('hex');
      reply.header('set-cookie', setCookie(cookies, cookies.preSession, preSession, PRE_SESSION_SECONDS));
    }
    return { account: null, csrfToken: deps.csrf.issue('pre', preSession) };
  });

  scope.post('/session', { config: PRE_SESSION_ROUTE }, async (request, reply) => {
    const body = parseBody(signInBody, request.body);
    const outcome = await deps.passwords.signIn(body.email, body.password, sourceKey(deps, request));
    if (outcome.kind === 'rateLimited') throw consoleErrors.error('rateLimited', { retryAfterSeconds: outcome.retryAfterSeconds });
    if (outcome.kind === 'badCredentials') throw consoleErrors.error('badCredentials');
    return signIn(deps, request, reply, outcome.account);
  });

  scope.delete('/session', async (request, reply) => {
    const { session } = signedIn(request);
    await deps.store.deleteSession(session.accountId, session.id);
    clearSession(deps, reply);
    reply.code(204).send();
  });
}

/** A new console session for an account whose password checked out; the browser's earlier one ends. */
async function signIn(deps: ConsoleDeps, request: FastifyRequest, reply: FastifyReply, account: AccountRecord) {
  const { cookies } = deps;
  // A session this browser already had ends: a sign-in always starts a new one (no fixation).
  const earlier = currentOrNull(request);
  if (earlier) await deps.store.deleteSession(earlier.session.accountId, earlier.session.id);
  const now = deps.now();
  await deps.store.setLastAuthAt(account.id, now);
  const { sessionId, sessionToken } = await openSession(deps.store, deps.accountSessions, account.id, now, 'console');
  const lifetimeSeconds = Math.floor(deps.sessions.lifetimeMs / 1000);
  reply.header('set-cookie', [setCookie(cookies, cookies.session, sessionToken, lifetimeSeconds), setCookie(cookies, cookies.preSession, '', 0)]);
  reply.header('cache-control', 'no-store');
  const roles = await deps.store.console.rolesOf(account.id);
  const session = { id: sessionId, accountId: account.id, tokenHash: Buffer.alloc(0), createdAt: now, lastUsedAt: now };
  return { account: accountView({ account, session, roles }), csrfToken: deps.csrf.issue('session', sessionId) };
}

/** The account's sessions (of both kinds: the person sees every door they are signed in at), and ending one. */
function registerSessionList(scope: FastifyInstance, deps: ConsoleDeps): void {
  scope.get('/sessions', async (request, reply) => {
    const { session } = signedIn(request);
    const query = parseBody(pageQuery, request.query);
    const now = deps.now();
    // Only live sessions, filtered in the store so that a page of over sessions is not an empty page.
    const live = liveSince(deps.accountSessions, now);
    const { items, next } = await storePage(
      sessionCursor,
      query,
      (keyset) => deps.store.listSessionsPage(session.accountId, { ...keyset, live }),
      (each) => ({ at: each.createdAt, id: each.id }),
    );
    reply.header('cache-control', 'no-store');
    return {
      sessions: items.map((each) => ({ id: each.id, kind: each.kind ?? 'accounts', createdAt: each.createdAt, lastUsedAt: each.lastUsedAt, current: each.id === session.id })),
      next,
    };
  });

  scope.delete<{ Params: { id: string } }>('/sessions/:id', async (request, reply) => {
    const { session } = signedIn(request);
    const id = request.params.id;
    if (!/^[0-9a-f]{32}$/.test(id) || !(await deps.store.deleteSession(session.accountId, id))) throw consoleErrors.error('sessionNotFound');
    if (id === session.id) clearSession(deps, reply);
    reply.code(204).send();
  });
}

function clearSession(deps: ConsoleDeps, reply: FastifyReply): void {
  reply.header('set-cookie', setCookie(deps.cookies, deps.cookies.session, '', 0));
}

function currentOrNull(request: FastifyRequest): SignedIn | null {
  try {
    return signedIn(request);
  } catch {
    return null;
  }
}
