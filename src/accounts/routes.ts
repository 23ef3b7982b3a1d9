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
import type { LoginLimiter } from './login-limiter.js';
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword, type PasswordCost, type PasswordPolicy } from './passwords.js';
import { bearerValue, hashSessionToken, newSessionId, newSessionToken, sameTokenHash } from './session-token.js';
import type { SigningKeyRing } from './signing-keys.js';
import { EmailTakenError, type AccountRecord, type IdentityStore, type SessionRecord } from './store.js';

export interface AccountsDeps {
  store: IdentityStore;
  signingKeys: SigningKeyRing;
  policy: PasswordPolicy;
  passwordCost: PasswordCost;
  limiter: LoginLimiter;
  /** Read per request: the public origin they default to is known only once the server listens. */
  assertion: () => AssertionSettings;
  now: () => number;
  /** Server errors (5xx) only; never called with request data. */
  onError?: (error: unknown) => void;
}

const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/);
const password = z.string().min(1).max(MAX_PASSWORD_LENGTH * 4);
const credentialsBody = z.object({ email: z.string(), password }).strict();
const changeBody = z.object({ oldPassword: password, newPassword: password }).strict();

export async function registerAccountsRoutes(app: FastifyInstance, deps: AccountsDeps): Promise<void> {
  // Hashing the unknown-email case against a real hash costs what a real check costs, so response
  // time does not tell whether an email has an account.
  // Made on first need, not at start: most Herald starts never see an unknown email.
  let decoy: Promise<string> | undefined;
  const decoyHash = () => (decoy ??= hashPassword(randomBytes(16).toString('hex'), deps.passwordCost));

  await app.register(async (scope) => {
    handleErrors(scope, accountErrors, {
      requestError: () => accountErrors.error('invalidRequest'),
      internalError: () => accountErrors.error('internal'),
      failed: (failure, _request, thrown) => {
        if (accountErrors.is(failure, 'internal')) deps.onError?.(thrown);
      },
    });

    scope.get('/.well-known/jwks.json', async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300').send(deps.signingKeys.jwks());
    });

    scope.post('/v1/account/create', async (request, reply) => {
      const body = parse(credentialsBody, request.body);
      const address = parseEmail(body.email);
      const refusal = deps.policy.check(body.password, address);
      if (refusal) throw accountErrors.error(refusal);
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

    scope.post('/v1/account/login', async (request, reply) => {
      const body = parse(credentialsBody, request.body);
      // A malformed email is a failed login like any other: no separate answer to probe with.
      const address = email.safeParse(body.email).data ?? String(body.email).trim().toLowerCase();
      const ip = request.ip;
      const blocked = await deps.limiter.blockedFor(address, ip);
      if (blocked !== null) throw accountErrors.error('rateLimited', { retryAfterSeconds: blocked });
      const account = await deps.store.accountByEmail(address);
      // An unknown email still pays for one argon2 check, against the decoy.
      const checked = await verifyPassword(account ? account.passwordHash : await decoyHash(), body.password);
      if (!account || !checked) {
        await deps.limiter.failed(address, ip);
        throw accountErrors.error('badCredentials');
      }
      await deps.limiter.succeeded(address);
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
      const sessions = await deps.store.listSessions(session.accountId);
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

    scope.post('/v1/password/change', async (request, reply) => {
      const { session, account } = await authenticate(deps, request);
      const body = parse(changeBody, request.body);
      const ip = request.ip;
      const blocked = await deps.limiter.blockedFor(account.email, ip);
      if (blocked !== null) throw accountErrors.error('rateLimited', { retryAfterSeconds: blocked });
      if (!(await verifyPassword(account.passwordHash, body.oldPassword))) {
        await deps.limiter.failed(account.email, ip);
        throw accountErrors.error('badCredentials');
      }
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

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) throw accountErrors.error('invalidRequest');
  return result.data;
}

function parseEmail(value: string): string {
  const result = email.safeParse(value);
  if (!result.success) throw accountErrors.error('invalidEmail');
  return result.data;
}

/** A new session per login (no fixation: nothing the client sent becomes a session id). */
async function openSession(deps: AccountsDeps, accountId: string, now: number): Promise<{ sessionId: string; sessionToken: string }> {
  const sessionToken = newSessionToken();
  const sessionId = newSessionId();
  const tokenHash = hashSessionToken(sessionToken) as Buffer;
  await deps.store.createSession({ id: sessionId, accountId, tokenHash, createdAt: now, lastUsedAt: now });
  return { sessionId, sessionToken };
}

/** The session and account of `Authorization: Bearer <64 hex>`; anything else is refused unlooked-up. */
async function authenticate(deps: AccountsDeps, request: FastifyRequest): Promise<{ session: SessionRecord; account: AccountRecord }> {
  const tokenHash = hashSessionToken(bearerValue(request.headers.authorization));
  if (!tokenHash) throw accountErrors.error('invalidSession');
  const session = await deps.store.sessionByTokenHash(tokenHash);
  if (!session || !sameTokenHash(session.tokenHash, tokenHash)) throw accountErrors.error('invalidSession');
  const account = await deps.store.accountById(session.accountId);
  if (!account) throw accountErrors.error('invalidSession');
  await deps.store.touchSession(session.id, deps.now());
  return { session, account };
}

