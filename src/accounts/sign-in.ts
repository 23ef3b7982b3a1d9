/**
 * Signing in, one code path for every door: the accounts API (`POST /v1/account/login`) and the
 * web console (src/console/) both check a password here, against the same login budgets, and open
 * sessions in the same table with the same rules.
 */
import type { SessionKind } from './session-kinds.js';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { LoginLimiter } from './login-limiter.js';
import { hashPassword, verifyPassword, type PasswordCost } from './passwords.js';
import { hashSessionToken, newSessionId, newSessionToken } from './session-token.js';
import type { AccountRecord, IdentityStore, SessionRecord } from './store.js';

export interface SessionLimits {
  /** Unused this long (ms), a session is over. */
  idleMs: number;
  /** This long (ms) after its login, a session is over however often it is used. */
  lifetimeMs: number;
  /** A login past this many sessions of one account ends the oldest. */
  maxPerAccount: number;
}

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/);

/** How a login attempt ended; `refused` carries the Retry-After of a spent budget. */
export type SignInOutcome =
  | { kind: 'ok'; account: AccountRecord }
  | { kind: 'badCredentials' }
  | { kind: 'rateLimited'; retryAfterSeconds: number };

export class PasswordChecker {
  // Hashing the unknown-email case against a real hash costs what a real check costs, so response
  // time does not tell whether an email has an account. Made on first need, not at start.
  private decoy: Promise<string> | undefined;

  constructor(
    private readonly store: IdentityStore,
    private readonly limiter: LoginLimiter,
    private readonly cost: PasswordCost,
  ) {}

  /**
   * One password check for `email` from `sourceKey` (the guard's source key), counted against the
   * login budgets before argon2 runs. A malformed email is a failed login like any other.
   */
  async signIn(email: unknown, password: string, sourceKey: string): Promise<SignInOutcome> {
    const address = emailSchema.safeParse(email).data ?? String(email).trim().toLowerCase();
    const admission = this.limiter.admit(address, sourceKey);
    if (!admission.admitted) return { kind: 'rateLimited', retryAfterSeconds: admission.retryAfterSeconds };
    const account = await this.store.accountByEmail(address);
    // An unknown email still pays for one argon2 check, against the decoy.
    const checked = await verifyPassword(account ? account.passwordHash : await this.decoyHash(), password);
    if (!account || !checked) return { kind: 'badCredentials' };
    admission.attempt.succeeded();
    return { kind: 'ok', account };
  }

  /** The password of a signed-in account again (dangerous actions), under the same budgets. */
  async confirm(account: AccountRecord, password: string, sourceKey: string): Promise<SignInOutcome> {
    const admission = this.limiter.admit(account.email, sourceKey);
    if (!admission.admitted) return { kind: 'rateLimited', retryAfterSeconds: admission.retryAfterSeconds };
    if (!(await verifyPassword(account.passwordHash, password))) return { kind: 'badCredentials' };
    admission.attempt.succeeded();
    return { kind: 'ok', account };
  }

  private decoyHash(): Promise<string> {
    return (this.decoy ??= hashPassword(randomBytes(16).toString('hex'), this.cost));
  }
}

/**
 * A new session per login (no fixation: nothing the client sent becomes a session id). The
 * account's sessions that are over are deleted, and past the cap the oldest go: a password
 * guessed once cannot leave an unbounded number of sessions behind.
 */
export async function openSession(
  store: IdentityStore,
  limits: SessionLimits,
  accountId: string,
  now: number,
  kind: SessionKind = 'accounts',
): Promise<{ sessionId: string; sessionToken: string }> {
  const sessionToken = newSessionToken();
  const sessionId = newSessionId();
  const tokenHash = hashSessionToken(sessionToken) as Buffer;
  await store.createSession({ id: sessionId, accountId, tokenHash, createdAt: now, lastUsedAt: now, kind });
  const live: SessionRecord[] = [];
  for (const session of await store.listSessions(accountId)) {
    if (sessionOver(limits, session, now)) await store.deleteSession(accountId, session.id);
    else live.push(session);
  }
  // Oldest first (listSessions' order); the new session is never among those dropped.
  const excess = live.filter((session) => session.id !== sessionId).slice(0, Math.max(0, live.length - limits.maxPerAccount));
  for (const session of excess) await store.deleteSession(accountId, session.id);
  return { sessionId, sessionToken };
}

export function sessionOver(limits: Pick<SessionLimits, 'idleMs' | 'lifetimeMs'>, session: SessionRecord, now: number): boolean {
  return now - session.lastUsedAt >= limits.idleMs || now - session.createdAt >= limits.lifetimeMs;
}

/** The bounds `sessionOver` puts on a live session at `now`, for a store to filter by (SessionPageQuery). */
export function liveSince(limits: Pick<SessionLimits, 'idleMs' | 'lifetimeMs'>, now: number): { usedAfter: number; createdAfter: number } {
  return { usedAfter: now - limits.idleMs, createdAfter: now - limits.lifetimeMs };
}
