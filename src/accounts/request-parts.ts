/**
 * What every accounts route does with its request: the body checked against its schema (naming
 * the field at fault), the source as the guard sees it, the login budgets, the bearer session.
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Source } from '../guard/source.js';
import type { AccountsDeps } from './deps.js';
import { accountErrors } from './errors.js';
import { MAX_PASSWORD_LENGTH } from './passwords.js';
import { bearerValue, hashSessionToken, sameTokenHash } from './session-token.js';
import { emailSchema as email, openSession as openStoredSession, sessionOver } from './sign-in.js';
import type { AccountRecord, SessionRecord } from './store.js';

const password = z.string().min(1).max(MAX_PASSWORD_LENGTH * 4);
export const credentialsBody = z.object({ email: z.string(), password }).strict();
export const changeBody = z.object({ oldPassword: password, newPassword: password }).strict();

/**
 * Every accounts body is two short strings; more is not a request but an attempt to make the
 * server buffer and parse (fastify answers 413, mapped to errno 406).
 */
export const LIMITED_BODY = { bodyLimit: 8192 };

/** The body as `schema` wants it, else 400 errno 400 naming the first field at fault. */
export function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw accountErrors.error('invalidRequest');
  const field = issue.path.join('.');
  const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : null;
  // Names the field and what was wrong with it, never the value sent (it may be a password).
  const detail = unknownKeys
    ? `unknown field ${unknownKeys}`
    : field === ''
      ? 'the body must be a JSON object'
      : issue.code === 'invalid_type' && valueAt(body, issue.path) === undefined
        ? `${field} is missing`
        : issue.code === 'too_big'
          ? `${field} is too long`
          : issue.code === 'too_small'
            ? `${field} is empty`
            : `${field} must be a string`;
  throw accountErrors.error('invalidRequest', { detail, at: { location: 'body', name: unknownKeys ?? field } });
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let value = body;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

/** The guard's view of who sent the request: the client behind a trusted proxy, IPv6 by prefix. */
export function sourceOf(deps: AccountsDeps, request: FastifyRequest): Source {
  return deps.sources.resolve(request.socket.remoteAddress, request.headers['x-forwarded-for']);
}

/** Takes the login budgets' points for one password check, or refuses with 429 errno 429. */
export function admit(deps: AccountsDeps, account: string, request: FastifyRequest): { succeeded(): void } {
  const admission = deps.limiter.admit(account, sourceOf(deps, request).key);
  if (!admission.admitted) throw accountErrors.error('rateLimited', { retryAfterSeconds: admission.retryAfterSeconds });
  return admission.attempt;
}

export function parseEmail(value: string): string {
  const result = email.safeParse(value);
  if (!result.success) throw accountErrors.error('invalidEmail');
  return result.data;
}

export function openSession(deps: AccountsDeps, accountId: string, now: number): Promise<{ sessionId: string; sessionToken: string }> {
  return openStoredSession(deps.store, deps.sessions, accountId, now);
}

/** The session and account of `Authorization: Bearer <64 hex>`; anything else is refused unlooked-up. */
export function authenticate(deps: AccountsDeps, request: FastifyRequest): Promise<{ session: SessionRecord; account: AccountRecord }> {
  return authenticateToken(deps, bearerValue(request.headers.authorization));
}

/** The same for a token from elsewhere (single sign-on's HttpOnly cookie). */
export async function authenticateToken(deps: AccountsDeps, token: string | null): Promise<{ session: SessionRecord; account: AccountRecord }> {
  const tokenHash = hashSessionToken(token);
  if (!tokenHash) throw accountErrors.error('invalidSession');
  const session = await deps.store.sessionByTokenHash(tokenHash);
  // A console session (its HttpOnly cookie's token) is no bearer token here (session-kinds.ts).
  if (!session || !sameTokenHash(session.tokenHash, tokenHash) || (session.kind ?? 'accounts') !== 'accounts') throw accountErrors.error('invalidSession');
  if (sessionOver(deps.sessions, session, deps.now())) {
    await deps.store.deleteSession(session.accountId, session.id);
    throw accountErrors.error('invalidSession');
  }
  const account = await deps.store.accountById(session.accountId);
  if (!account) throw accountErrors.error('invalidSession');
  await deps.store.touchSession(session.id, deps.now());
  return { session, account };
}

