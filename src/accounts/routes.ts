/**
 * The accounts server's HTTP API (docs/accounts.md). Mounted on any fastify instance by
 * `registerAccountsRoutes(app, deps)`; its errors come from its own table (errors.ts).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { handleErrors } from '../http/errors.js';
import { issueAssertion, signProfile, type AssertionSettings } from './assertions.js';
import { accountErrors } from './errors.js';
import type { WindowCounter } from '../guard/limiters.js';
import type { Source, SourceResolver } from '../guard/source.js';
import type { LoginLimiter } from './login-limiter.js';
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword, type PasswordCost, type PasswordPolicy } from './passwords.js';
import { bearerValue, hashSessionToken, sameTokenHash } from './session-token.js';
import { emailSchema as email, openSession as openStoredSession, PasswordChecker, sessionOver, type SessionLimits } from './sign-in.js';
import type { SigningKeyRing } from './signing-keys.js';
import { EmailTakenError, type AccountRecord, type IdentityStore, type SessionRecord } from './store.js';

export interface AccountsDeps {
  store: IdentityStore;
  signingKeys: SigningKeyRing;
  policy: PasswordPolicy;
  passwordCost: PasswordCost;
  limiter: LoginLimiter;
  /** Sign-ups per source (each costs an argon2 hash); sources the guard exempts are not counted. */
  signups: WindowCounter;
  /** Who a request comes from: the guard's resolver (trusted proxies, IPv6 by prefix). */
  sources: SourceResolver;
  sessions: SessionLimits;
  /** Read per request: the public origin they default to is known only once the server listens. */
  assertion: () => AssertionSettings;
  now: () => number;
  /** Server errors (5xx) only; never called with request data. */
  onError?: (error: unknown) => void;
}

export type { SessionLimits } from './sign-in.js';
const password = z.string().min(1).max(MAX_PASSWORD_LENGTH * 4);
const credentialsBody = z.object({ email: z.string(), password }).strict();
const changeBody = z.object({ oldPassword: password, newPassword: password }).strict();

/**
 * Every accounts body is two short strings; more is not a request but an attempt to make the
 * server buffer and parse (fastify answers 413, mapped to errno 406).
 */
const BODY_LIMIT_BYTES = 8192;

export async function registerAccountsRoutes(app: FastifyInstance, deps: AccountsDeps): Promise<void> {
  const passwords = new PasswordChecker(deps.store, deps.limiter, deps.passwordCost);

  await app.register(async (scope) => {
    handleErrors(scope, accountErrors, {
      requestError: (error) =>
        error.statusCode === 413 ? accountErrors.error('bodyTooLarge') : accountErrors.error('invalidRequest', { detail: 'the body is not a JSON object' }),
      internalError: () => accountErrors.error('internal'),
      failed: (failure, _request, thrown) => {
        if (accountErrors.is(failure, 'internal')) deps.onError?.(thrown);
      },
    });

    scope.get('/.well-known/jwks.json', async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300').send(deps.signingKeys.jwks());
    });

    const limited = { bodyLimit: BODY_LIMIT_BYTES };

    scope.post('/v1/account/create', limited, async (request, reply) => {
      const body = parse(credentialsBody, request.body);
      const address = parseEmail(body.email);
      const refusal = deps.policy.check(body.password, address);
      if (refusal) throw accountErrors.error(refusal);
      // Counted only once the request is well formed, and before the hash: a burst takes its
      // points synchronously, so at most the budget reaches argon2.
      const source = sourceOf(deps, request);
      if (!source.exempt) {
        const waitMs = deps.signups.take(source.key);
        if (waitMs !== null) throw accountErrors.error('signupLimited', { retryAfterSeconds: Math.ceil(waitMs / 1000) });
      }
      const now = deps.now();
      const account: AccountRecord = {
        id: randomBytes(16).toString('hex'),
        email: address,
        passwordHash: await hashPassword(body.password, deps.passwordCost),
        createdAt: now,
        generation: now,
        keysChangedAt: now,
        lastAuthAt: now,
      };
      try {
        await deps.store.createAccount(account);
      } catch (error) {
        if (error instanceof EmailTakenError) throw accountErrors.error('emailTaken');
        throw error;
      }
      reply.code(201).send({ uid: account.id, ...(await openSession(deps, account.id, now)) });
    });

    scope.post('/v1/account/login', limited, async (request, reply) => {
      const body = parse(credentialsBody, request.body);
      // A malformed email is a failed login like any other: no separate answer to probe with.
      const outcome = await passwords.signIn(body.email, body.password, sourceOf(deps, request).key);
      if (outcome.kind === 'rateLimited') throw accountErrors.error('rateLimited', { retryAfterSeconds: outcome.retryAfterSeconds });
      if (outcome.kind === 'badCredentials') throw accountErrors.error('badCredentials');
      const account = outcome.account;
      const now = deps.now();
      await deps.store.setLastAuthAt(account.id, now);
      reply.send({ uid: account.id, ...(await openSession(deps, account.id, now)) });
    });

    scope.post('/v1/session/destroy', async (request, reply) => {
      const { session } = await authenticate(deps, request);
      await deps.store.deleteSession(session.accountId, session.id);
      reply.code(204).send();
    });

    scope.get('/v1/account/sessions', async (request, reply) => {
      const { session } = await authenticate(deps, request);
      const now = deps.now();
      const sessions = (await deps.store.listSessions(session.accountId)).filter((each) => !sessionOver(deps.sessions, each, now));
      reply.send({
        sessions: sessions.map((s) => ({ id: s.id, createdAt: s.createdAt, lastUsedAt: s.lastUsedAt, current: s.id === session.id })),
      });
    });

    scope.delete<{ Params: { id: string } }>('/v1/account/sessions/:id', async (request, reply) => {
      const { session } = await authenticate(deps, request);
      const id = request.params.id;
      if (!/^[0-9a-f]{32}$/.test(id) || !(await deps.store.deleteSession(session.accountId, id))) throw accountErrors.error('sessionNotFound');
      reply.code(204).send();
    });

    scope.post('/v1/password/change', limited, async (request, reply) => {
      const { session, account } = await authenticate(deps, request);
      const body = parse(changeBody, request.body);
      // A stolen session must not become an unlimited password oracle: the same budgets as login.
      const attempt = admit(deps, account.email, request);
      if (!(await verifyPassword(account.passwordHash, body.oldPassword))) throw accountErrors.error('badCredentials');
      attempt.succeeded();
      const refusal = deps.policy.check(body.newPassword, account.email);
      if (refusal) throw accountErrors.error(refusal);
      const now = deps.now();
      // Strictly increasing even if the clock stepped back or two changes share a millisecond.
      const generation = Math.max(now, account.generation + 1);
      // Herald derives no keys server-side: a client's key material follows its password, so a
      // password change is a key change, at the same instant (keys_changed_at never exceeds
      // generation), and the token server will then accept a new client state.
      const keysChangedAt = generation;
      await deps.store.changePassword(
        account.id,
        { passwordHash: await hashPassword(body.newPassword, deps.passwordCost), generation, keysChangedAt, lastAuthAt: now },
        session.id,
      );
      reply.send({ generation, keysChangedAt });
    });

    scope.post('/v1/assertion', async (request, reply) => {
      const { account } = await authenticate(deps, request);
      reply.send(await issueAssertion(deps.signingKeys, deps.assertion(), account, deps.now()));
    });

    scope.get('/v1/profile', async (request, reply) => {
      const { account } = await authenticate(deps, request);
      reply.type('application/jwt').send(await signProfile(deps.signingKeys, deps.assertion().issuer, account, deps.now()));
    });
  });
}

/** The body as `schema` wants it, else 400 errno 400 naming the first field at fault. */
function parse<T>(schema: z.ZodType<T>, body: unknown): T {
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
function sourceOf(deps: AccountsDeps, request: FastifyRequest): Source {
  return deps.sources.resolve(request.socket.remoteAddress, request.headers['x-forwarded-for']);
}

/** Takes the login budgets' points for one password check, or refuses with 429 errno 429. */
function admit(deps: AccountsDeps, account: string, request: FastifyRequest): { succeeded(): void } {
  const admission = deps.limiter.admit(account, sourceOf(deps, request).key);
  if (!admission.admitted) throw accountErrors.error('rateLimited', { retryAfterSeconds: admission.retryAfterSeconds });
  return admission.attempt;
}

function parseEmail(value: string): string {
  const result = email.safeParse(value);
  if (!result.success) throw accountErrors.error('invalidEmail');
  return result.data;
}

function openSession(deps: AccountsDeps, accountId: string, now: number): Promise<{ sessionId: string; sessionToken: string }> {
  return openStoredSession(deps.store, deps.sessions, accountId, now);
}

/** The session and account of `Authorization: Bearer <64 hex>`; anything else is refused unlooked-up. */
async function authenticate(deps: AccountsDeps, request: FastifyRequest): Promise<{ session: SessionRecord; account: AccountRecord }> {
  const tokenHash = hashSessionToken(bearerValue(request.headers.authorization));
  if (!tokenHash) throw accountErrors.error('invalidSession');
  const session = await deps.store.sessionByTokenHash(tokenHash);
  if (!session || !sameTokenHash(session.tokenHash, tokenHash)) throw accountErrors.error('invalidSession');
  if (sessionOver(deps.sessions, session, deps.now())) {
    await deps.store.deleteSession(session.accountId, session.id);
    throw accountErrors.error('invalidSession');
  }
  const account = await deps.store.accountById(session.accountId);
  if (!account) throw accountErrors.error('invalidSession');
  await deps.store.touchSession(session.id, deps.now());
  return { session, account };
}

