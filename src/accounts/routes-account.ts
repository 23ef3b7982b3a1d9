/** Creating an account, logging in, changing the password (docs/accounts.md). */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountsDeps } from './deps.js';
import { accountErrors } from './errors.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { admit, authenticate, changeBody, credentialsBody, LIMITED_BODY as limited, openSession, parse, parseEmail, sourceOf } from './request-parts.js';
import type { PasswordChecker } from './sign-in.js';
import { EmailTakenError, type AccountRecord } from './store.js';

export function registerAccountRoutes(scope: FastifyInstance, deps: AccountsDeps, passwords: PasswordChecker): void {
  scope.post('/v1/account/create', limited, async (request, reply) => {
    const account = await createAccount(deps, request);
    reply.code(201).send({ uid: account.id, ...(await openSession(deps, account.id, account.createdAt)) });
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

  scope.post('/v1/password/change', limited, async (request, reply) => reply.send(await changePassword(deps, request)));
}

/** Checks the sign-up (policy, then the per-source budget) and stores the new account. */
async function createAccount(deps: AccountsDeps, request: FastifyRequest): Promise<AccountRecord> {
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
  return account;
}

/** Verifies the old password (under the login budgets) and stores the new one, which is a key change. */
async function changePassword(deps: AccountsDeps, request: FastifyRequest): Promise<{ generation: number; keysChangedAt: number }> {
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
  return { generation, keysChangedAt };
}
