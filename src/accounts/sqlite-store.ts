import { needsNode, planAssignment } from './assignment.js';
import Database from 'better-sqlite3';
import { preparePrivateDatabaseFile } from '../store/sqlite/private-file.js';
import { CONSOLE_MIGRATION_NAME } from './console-records.js';
import { SQLITE_CONSOLE_MIGRATION, SqliteConsoleRecords } from './sqlite-console-records.js';
import { SQLITE_SSO_BACKCHANNEL_MIGRATION, SQLITE_SSO_MIGRATION, SqliteSsoRecords, SSO_BACKCHANNEL_MIGRATION_NAME, SSO_MIGRATION_NAME } from './sqlite-sso-records.js';
import {
  EmailTakenError,
  type AccountRecord,
  type IdentityStore,
  type NodeRecord,
  type ServiceUserRecord,
  type SessionRecord,
  type UserDecision,
  type UserOutcome,
} from './store.js';

/**
 * The identity schema as numbered migrations, recorded in `accounts_schema_migrations` (not the push
 * store's `schema_migrations`): the identity database is its own file, but keeping the names apart
 * means the two lists can never be confused if an operator points both at one database.
 * Never edit a migration that has shipped: add the next number.
 */
export const identityMigrations: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'accounts, sessions, nodes, service users',
    sql: `
      CREATE TABLE accounts (
        id              TEXT    NOT NULL PRIMARY KEY,
        email           TEXT    NOT NULL UNIQUE,
        password_hash   TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        generation      INTEGER NOT NULL,
        keys_changed_at INTEGER NOT NULL,
        last_auth_at    INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE sessions (
        id           TEXT    NOT NULL PRIMARY KEY,
        account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        token_hash   BLOB    NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_account ON sessions (account_id);

      CREATE TABLE nodes (
        id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        service      TEXT    NOT NULL,
        url          TEXT    NOT NULL,
        capacity     INTEGER NOT NULL,
        current_load INTEGER NOT NULL DEFAULT 0,
        downed       INTEGER NOT NULL DEFAULT 0,
        UNIQUE (service, url)
      ) STRICT;

      -- SQLite INTEGER is 64-bit: generation and keys_changed_at fit whatever a peer sends.
      CREATE TABLE service_users (
        uid             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        service         TEXT    NOT NULL,
        account_id      TEXT    NOT NULL,
        generation      INTEGER NOT NULL,
        keys_changed_at INTEGER NOT NULL,
        client_state    TEXT    NOT NULL,
        node_id         INTEGER NOT NULL REFERENCES nodes (id),
        created_at      INTEGER NOT NULL,
        replaced_at     INTEGER
      ) STRICT;
      CREATE INDEX service_users_account ON service_users (service, account_id, uid);
      -- At most one current record per account and service.
      CREATE UNIQUE INDEX service_users_current ON service_users (service, account_id) WHERE replaced_at IS NULL;
    `,
  },
  { version: 2, name: CONSOLE_MIGRATION_NAME, sql: SQLITE_CONSOLE_MIGRATION },
  { version: 3, name: SSO_MIGRATION_NAME, sql: SQLITE_SSO_MIGRATION },
  { version: 4, name: SSO_BACKCHANNEL_MIGRATION_NAME, sql: SQLITE_SSO_BACKCHANNEL_MIGRATION },
];

interface AccountRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: number;
  generation: number;
  keys_changed_at: number;
  last_auth_at: number;
}
interface SessionRow {
  id: string;
  account_id: string;
  token_hash: Buffer;
  created_at: number;
  last_used_at: number;
}
interface NodeRow {
  id: number;
  service: string;
  url: string;
  capacity: number;
  current_load: number;
  downed: number;
}
interface UserRow {
  uid: number;
  service: string;
  account_id: string;
  generation: number;
  keys_changed_at: number;
  client_state: string;
  node_id: number;
  created_at: number;
  replaced_at: number | null;
}

const toAccount = (row: AccountRow): AccountRecord => ({
  id: row.id,
  email: row.email,
  passwordHash: row.password_hash,
  createdAt: row.created_at,
  generation: row.generation,
  keysChangedAt: row.keys_changed_at,
  lastAuthAt: row.last_auth_at,
});
const toSession = (row: SessionRow): SessionRecord => ({
  id: row.id,
  accountId: row.account_id,
  tokenHash: row.token_hash,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});
const toNode = (row: NodeRow): NodeRecord => ({
  id: row.id,
  service: row.service,
  url: row.url,
  capacity: row.capacity,
  currentLoad: row.current_load,
  downed: row.downed !== 0,
});
const toUser = (row: UserRow): ServiceUserRecord => ({
  uid: row.uid,
  service: row.service,
  accountId: row.account_id,
  generation: row.generation,
  keysChangedAt: row.keys_changed_at,
  clientState: row.client_state,
  nodeId: row.node_id,
  createdAt: row.created_at,
  replacedAt: row.replaced_at,
});

const USER_COLUMNS = 'uid, service, account_id, generation, keys_changed_at, client_state, node_id, created_at, replaced_at';

/**
 * The embedded identity backend: better-sqlite3 on its own file (WAL). Synchronous underneath, so
 * `resolveUser` runs its read-decide-write as one immediate transaction with no await inside.
 */
export class SqliteIdentityStore implements IdentityStore {
  private readonly db: Database.Database;
  readonly console: SqliteConsoleRecords;
  readonly sso: SqliteSsoRecords;

  constructor(path: string) {
    preparePrivateDatabaseFile(path);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    // `herald admin nodes …` writes from another process while Herald runs.
    this.db.pragma('busy_timeout = 5000');
    this.console = new SqliteConsoleRecords(this.db);
    this.sso = new SqliteSsoRecords(this.db);
  }

  async migrate(): Promise<void> {
    const db = this.db;
    db.exec(`CREATE TABLE IF NOT EXISTS accounts_schema_migrations (
      version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
    const latest = Math.max(...identityMigrations.map((m) => m.version));
    const current = (db.prepare('SELECT max(version) AS v FROM accounts_schema_migrations').get() as { v: number | null }).v ?? 0;
    if (current > latest) throw new Error(`the accounts database is at schema version ${current}, newer than this Herald knows (${latest})`);
    const isApplied = db.prepare('SELECT 1 FROM accounts_schema_migrations WHERE version = ?');
    const record = db.prepare('INSERT INTO accounts_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const apply = db.transaction((migration: (typeof identityMigrations)[number]) => {
      if (isApplied.get(migration.version)) return;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    });
    for (const migration of identityMigrations) if (migration.version > current) apply.immediate(migration);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async createAccount(account: AccountRecord): Promise<void> {
    try {
      this.db
        .prepare(
          `INSERT INTO accounts (id, email, password_hash, created_at, generation, keys_changed_at, last_auth_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(account.id, account.email, account.passwordHash, account.createdAt, account.generation, account.keysChangedAt, account.lastAuthAt);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new EmailTakenError();
      throw error;
    }
  }

  async accountByEmail(email: string): Promise<AccountRecord | null> {
    const row = this.db.prepare('SELECT * FROM accounts WHERE email = ?').get(email) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  }

  async accountById(id: string): Promise<AccountRecord | null> {
    const row = this.db.prepare('SELECT * FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  }

  async setLastAuthAt(accountId: string, at: number): Promise<void> {
    this.db.prepare('UPDATE accounts SET last_auth_at = ? WHERE id = ?').run(at, accountId);
  }

  async changePassword(
    accountId: string,
    change: { passwordHash: string; generation: number; keysChangedAt: number; lastAuthAt: number },
    keepSessionId: string | null,
  ): Promise<void> {
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE accounts SET password_hash = ?, generation = ?, keys_changed_at = ?, last_auth_at = ? WHERE id = ?')
        .run(change.passwordHash, change.generation, change.keysChangedAt, change.lastAuthAt, accountId);
      this.db.prepare('DELETE FROM sessions WHERE account_id = ? AND id IS NOT ?').run(accountId, keepSessionId);
    }).immediate();
  }

  async createSession(session: SessionRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO sessions (id, account_id, token_hash, created_at, last_used_at) VALUES (?, ?, ?, ?, ?)')
      .run(session.id, session.accountId, session.tokenHash, session.createdAt, session.lastUsedAt);
  }

  async sessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null> {
    const row = this.db.prepare('SELECT * FROM sessions WHERE token_hash = ?').get(tokenHash) as SessionRow | undefined;
    return row ? toSession(row) : null;
  }

  async touchSession(sessionId: string, at: number): Promise<void> {
    this.db.prepare('UPDATE sessions SET last_used_at = ? WHERE id = ?').run(at, sessionId);
  }

  async listSessions(accountId: string): Promise<SessionRecord[]> {
    const rows = this.db.prepare('SELECT * FROM sessions WHERE account_id = ? ORDER BY created_at, id').all(accountId) as SessionRow[];
    return rows.map(toSession);
  }

  async deleteSession(accountId: string, sessionId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM sessions WHERE account_id = ? AND id = ?').run(accountId, sessionId).changes > 0;
  }

  async addNode(node: { service: string; url: string; capacity: number }): Promise<NodeRecord> {
    this.db
      .prepare(
        `INSERT INTO nodes (service, url, capacity) VALUES (?, ?, ?)
         ON CONFLICT (service, url) DO UPDATE SET capacity = excluded.capacity`,
      )
      .run(node.service, node.url, node.capacity);
    return toNode(this.db.prepare('SELECT * FROM nodes WHERE service = ? AND url = ?').get(node.service, node.url) as NodeRow);
  }

  async listNodes(service?: string): Promise<NodeRecord[]> {
    const rows = (
      service === undefined
        ? this.db.prepare('SELECT * FROM nodes ORDER BY service, id').all()
        : this.db.prepare('SELECT * FROM nodes WHERE service = ? ORDER BY id').all(service)
    ) as NodeRow[];
    return rows.map(toNode);
  }

  async setNodeDowned(service: string, url: string, downed: boolean): Promise<boolean> {
    return this.db.prepare('UPDATE nodes SET downed = ? WHERE service = ? AND url = ?').run(downed ? 1 : 0, service, url).changes > 0;
  }

  async hasService(service: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM nodes WHERE service = ? LIMIT 1').get(service) !== undefined;
  }

  async resolveUser(
    service: string,
    accountId: string,
    decide: (current: ServiceUserRecord | null, seen: ReadonlySet<string>) => UserDecision,
    now: number,
  ): Promise<UserOutcome> {
    const db = this.db;
    const run = db.transaction((): UserOutcome => {
      const rows = db
        .prepare(`SELECT ${USER_COLUMNS} FROM service_users WHERE service = ? AND account_id = ? ORDER BY uid`)
        .all(service, accountId) as UserRow[];
      const records = rows.map(toUser);
      const current = records.find((record) => record.replacedAt === null) ?? null;
      const seen = new Set(records.map((record) => record.clientState).filter((state) => state !== ''));
      const decision = decide(current, seen);
      if (decision.kind === 'refuse') return { kind: 'refused', reason: decision.reason, detail: decision.detail };

      const nodeOf = (id: number) => {
        const row = db.prepare('SELECT * FROM nodes WHERE id = ?').get(id) as NodeRow | undefined;
        return row ? toNode(row) : null;
      };
      const currentNode = current ? nodeOf(current.nodeId) : null;
      const freshNode = needsNode(currentNode)
        ? ((row) => (row ? toNode(row) : null))(
            db
              .prepare(
                `SELECT * FROM nodes WHERE service = ? AND downed = 0 AND capacity > current_load
                 ORDER BY capacity - current_load DESC, id LIMIT 1`,
              )
              .get(service) as NodeRow | undefined,
          )
        : null;
      const plan = planAssignment(decision, current, currentNode, freshNode, now);
      if (plan.kind === 'noNode') return plan;
      let inserted = 0;
      for (const step of plan.steps) {
        if (step.op === 'retire') db.prepare('UPDATE service_users SET replaced_at = ? WHERE uid = ?').run(now, step.uid);
        else if (step.op === 'insert') {
          inserted = Number(
            db
              .prepare(
                `INSERT INTO service_users (service, account_id, generation, keys_changed_at, client_state, node_id, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)`,
              )
              .run(service, accountId, step.generation, step.keysChangedAt, step.clientState, step.nodeId, now).lastInsertRowid,
          );
        } else if (step.op === 'update') db.prepare('UPDATE service_users SET generation = ?, keys_changed_at = ? WHERE uid = ?').run(step.generation, step.keysChangedAt, step.uid);
        else if (step.op === 'move') db.prepare('UPDATE service_users SET node_id = ? WHERE uid = ?').run(step.nodeId, step.uid);
        else db.prepare('UPDATE nodes SET current_load = max(0, current_load + ?) WHERE id = ?').run(step.delta, step.nodeId);
      }
      const uid = plan.uid === 'inserted' ? inserted : plan.uid;
      const user = toUser(db.prepare(`SELECT ${USER_COLUMNS} FROM service_users WHERE uid = ?`).get(uid) as UserRow);
      return { kind: 'ok', user, node: nodeOf(plan.nodeId) as NodeRecord, retired: plan.retired, moved: plan.moved };
    });
    return run.immediate();
  }

  async userHistory(service: string, accountId: string): Promise<ServiceUserRecord[]> {
    const rows = this.db
      .prepare(`SELECT ${USER_COLUMNS} FROM service_users WHERE service = ? AND account_id = ? ORDER BY uid`)
      .all(service, accountId) as UserRow[];
    return rows.map(toUser);
  }

  /** Every row of every table, for tests that check a refused request wrote nothing. */
  async snapshot(): Promise<string> {
    const tables = ['accounts', 'sessions', 'nodes', 'service_users', 'console_apps', 'account_roles', 'sso_apps', 'sso_codes'];
    return JSON.stringify(tables.map((table) => this.db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all()));
  }
}
