/**
 * How many password guesses Herald lets through (docs/accounts.md, "Login limits"). Three budgets,
 * the answer OWASP and most identity providers give to "limit guessing without letting anyone lock
 * an owner out":
 *
 * - per (account, source): one source guessing one account's password;
 * - per source: one source guessing across many accounts;
 * - per account, all sources together, over a day, far above the first: a botnet spreading its
 *   guesses over many sources. Sources the account logged in from before are exempt from it, so an
 *   attack on the account does not lock its owner out of the places they usually log in from.
 *
 * A point is taken from each budget *before* the password is checked (synchronously, so a burst of
 * N parallel attempts takes N points and at most the budget reaches argon2), and a successful
 * login gives back only the points it took itself: it cannot hand an attacker fresh guesses.
 *
 * In memory, on one node: a cluster behind a load balancer gives each node its own budgets.
 */
import { WindowCounter } from '../guard/limiters.js';

export interface LoginLimits {
  /** Failed logins for one account from one source within the window. */
  failuresPerAccount: number;
  /** Failed logins from one source, all accounts together, within the window. */
  failuresPerIp: number;
  windowSeconds: number;
  /** Failed logins for one account from all sources not known to it, per day. */
  failuresPerAccountAllSources: number;
}

/** An attempt admitted by the budgets; told when the password was right. */
export interface LoginAttempt {
  succeeded(): void;
}

export type Admission = { admitted: true; attempt: LoginAttempt } | { admitted: false; retryAfterSeconds: number };

const DAY_MS = 86_400_000;
/** Sources remembered per account, and how long: the places an owner usually logs in from. */
const KNOWN_SOURCES_PER_ACCOUNT = 16;
const KNOWN_SOURCE_MS = 30 * DAY_MS;
/** Accounts whose known sources are remembered (the least recently successful are forgotten). */
const MAX_REMEMBERED_ACCOUNTS = 100_000;

export class LoginLimiter {
  private readonly perAccountSource: WindowCounter;
  private readonly perSource: WindowCounter;
  private readonly perAccount: WindowCounter;
  /** account → source key → when it last logged in from there. */
  private readonly known = new Map<string, Map<string, number>>();

  constructor(
    limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {
    const windowMs = limits.windowSeconds * 1000;
    this.perAccountSource = new WindowCounter(limits.failuresPerAccount, windowMs, now);
    this.perSource = new WindowCounter(limits.failuresPerIp, windowMs, now);
    this.perAccount = new WindowCounter(limits.failuresPerAccountAllSources, DAY_MS, now);
  }

  /**
   * Takes a point from each budget for `account` (the normalized email) tried from `source` (the
   * guard's source key), or says how long to wait when one is spent (taking nothing).
   */
  admit(account: string, source: string): Admission {
    const pair = `${source}\n${account}`;
    const taken: Array<[WindowCounter, string]> = [];
    const counters: Array<[WindowCounter, string]> = [
      [this.perAccountSource, pair],
      [this.perSource, source],
    ];
    if (!this.isKnown(account, source)) counters.push([this.perAccount, account]);
    for (const [counter, key] of counters) {
      const waitMs = counter.take(key);
      if (waitMs !== null) {
        for (const [given, givenKey] of taken) given.refund(givenKey);
        return { admitted: false, retryAfterSeconds: Math.ceil(waitMs / 1000) };
      }
      taken.push([counter, key]);
    }
    return {
      admitted: true,
      attempt: {
        succeeded: () => {
          for (const [counter, key] of taken) counter.refund(key);
          this.remember(account, source);
        },
      },
    };
  }

  private isKnown(account: string, source: string): boolean {
    const at = this.known.get(account)?.get(source);
    return at !== undefined && this.now() - at < KNOWN_SOURCE_MS;
  }

  private remember(account: string, source: string): void {
    let sources = this.known.get(account);
    if (sources) this.known.delete(account);
    else sources = new Map();
    // Map order is insertion order: re-inserting keeps the most recent last, the oldest first.
    this.known.set(account, sources);
    sources.delete(source);
    sources.set(source, this.now());
    if (sources.size > KNOWN_SOURCES_PER_ACCOUNT) sources.delete(sources.keys().next().value as string);
    if (this.known.size > MAX_REMEMBERED_ACCOUNTS) this.known.delete(this.known.keys().next().value as string);
  }
}
