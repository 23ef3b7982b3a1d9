/**
 * What the accounts server and the token server keep, behind one interface so a PostgreSQL backend
 * can pass the same suite as the SQLite one. It is separate from the push `Store`: its own database
 * file, its own migration list, so the two never collide.
 *
 * Times are epoch milliseconds. `generation` and `keysChangedAt` are epoch milliseconds too (as in
 * Firefox Accounts); callers refuse anything above 2^53-1 before it reaches a store.
 */
import type { SessionKind } from './session-kinds.js';
import type { ConsoleRecords } from './console-records.js';
import type { SsoRecords } from './sso-records.js';
import type { KeysetQuery, TimeKey } from '../store/keyset.js';

export interface AccountRecord {
  /** 32 lowercase hex, random; the `sub` of assertions. */
  id: string;
  /** Lowercased and trimmed. */
  email: string;
  /** argon2id PHC string. */
  passwordHash: string;
  createdAt: number;
  /** Bumped on every password change. */
  generation: number;
  /** When the account's key material last changed. */
  keysChangedAt: number;
  /** Last successful password entry. */
  lastAuthAt: number;
}

export interface SessionRecord {
  /** Public id (32 hex), used to list and destroy sessions; not a credential. */
  id: string;
  accountId: string;
  /** SHA-256 of the session token: the token itself is never stored. */
  tokenHash: Buffer;
  createdAt: number;
  lastUsedAt: number;
  /** The API that opened it, the only one that accepts it (session-kinds.ts); absent on create: 'accounts'. */
  kind?: SessionKind | 'unknown';
}

/**
 * A page of sessions, keyed by (createdAt, id). A session used last at or before `usedAfter`, or
 * opened at or before `createdAfter`, is over (sign-in.ts `liveSince`) and is not answered: pages
 * filtered in SQL stay full where filtering rows after the read would leave holes.
 */
export interface SessionPageQuery extends KeysetQuery<TimeKey> {
  live?: { usedAfter: number; createdAfter: number };
}

export interface NodeRecord {
  id: number;
  service: string;
  url: string;
  capacity: number;
  currentLoad: number;
  downed: boolean;
}

/** One token-server user record: an account's storage identity on one service. */
export interface ServiceUserRecord {
  uid: number;
  service: string;
  accountId: string;
  generation: number;
  keysChangedAt: number;
  /** '' until a client sends a state; then 32 lowercase hex. */
  clientState: string;
  nodeId: number;
  createdAt: number;
  /** null for the current record; set when a client-state change retired it. */
  replacedAt: number | null;
}

/** What the token server decided for a request, given the current record and the history. */
export type UserDecision =
  | { kind: 'refuse'; reason: string; detail: string }
  | { kind: 'create'; clientState: string; generation: number; keysChangedAt: number }
  | { kind: 'keep' }
  | { kind: 'update'; generation: number; keysChangedAt: number }
  | { kind: 'replace'; clientState: string; generation: number; keysChangedAt: number };

export type UserOutcome =
  | { kind: 'refused'; reason: string; detail: string }
  | { kind: 'noNode' }
  | { kind: 'ok'; user: ServiceUserRecord; node: NodeRecord; retired: ServiceUserRecord | null; moved: boolean };

export class EmailTakenError extends Error {
  constructor() {
    super('an account with this email already exists');
    this.name = 'EmailTakenError';
  }
}

export interface IdentityStore {
  /** The web console's apps and account roles (console-records.ts). */
  readonly console: ConsoleRecords;
  /** Single sign-on's relying apps and one-time codes (sso-records.ts). */
  readonly sso: SsoRecords;
  migrate(): Promise<void>;
  close(): Promise<void>;

  createAccount(account: AccountRecord): Promise<void>;
  accountByEmail(email: string): Promise<AccountRecord | null>;
  accountById(id: string): Promise<AccountRecord | null>;
  setLastAuthAt(accountId: string, at: number): Promise<void>;
  /**
   * Sets a new password hash, generation and keysChangedAt, and destroys every session of the
   * account except `keepSessionId`, in one transaction.
   */
  changePassword(
    accountId: string,
    change: { passwordHash: string; generation: number; keysChangedAt: number; lastAuthAt: number },
    keepSessionId: string | null,
  ): Promise<void>;

  createSession(session: SessionRecord): Promise<void>;
  sessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null>;
  touchSession(sessionId: string, at: number): Promise<void>;
  listSessions(accountId: string): Promise<SessionRecord[]>;
  /** One page of the account's sessions in (createdAt, id) order, only those still live (the console's table). */
  listSessionsPage(accountId: string, query: SessionPageQuery): Promise<SessionRecord[]>;
  /** true when the account had such a session. */
  deleteSession(accountId: string, sessionId: string): Promise<boolean>;

  addNode(node: { service: string; url: string; capacity: number }): Promise<NodeRecord>;
  listNodes(service?: string): Promise<NodeRecord[]>;
  /** One page of every service's nodes in id order (the console's table). */
  listNodesPage(query: KeysetQuery<number>): Promise<NodeRecord[]>;
  /** true when such a node exists. */
  setNodeDowned(service: string, url: string, downed: boolean): Promise<boolean>;
  hasService(service: string): Promise<boolean>;

  /**
   * The token server's one write path. In a single transaction: reads the account's current record
   * and every client state it ever recorded, asks `decide`, and applies its answer (creating,
   * updating or replacing the record, assigning or moving the node). `decide` runs before any
   * write, so a refused request changes nothing.
   */
  resolveUser(
    service: string,
    accountId: string,
    decide: (current: ServiceUserRecord | null, seenClientStates: ReadonlySet<string>) => UserDecision,
    now: number,
  ): Promise<UserOutcome>;
  /** Every record of an account on a service, oldest first (tests and admin). */
  userHistory(service: string, accountId: string): Promise<ServiceUserRecord[]>;
}
