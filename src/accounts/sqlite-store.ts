import { needsNode, planAssignment } from './assignment.js';
import Database from 'better-sqlite3';
import { preparePrivateDatabaseFile } from '../store/sqlite/private-file.js';
import { sessionKindOf } from './session-kinds.js';
import { runSqliteMigrations } from '../store/migrations/sqlite-runner.js';
import { SqliteConsoleRecords } from './sqlite-console-records.js';
import { identityMigrations } from './sqlite-migrations.js';
import { SqliteSsoRecords } from './sqlite-sso-records.js';
import {
  EmailTakenError,
  type AccountRecord,
  type IdentityStore,
  type NodeRecord,
  type ServiceUserRecord,
  type SessionPageQuery,
  type SessionRecord,
  type UserDecision,
  type UserOutcome,
} from './store.js';
import { BEFORE_ALL_TIMES, rowsToRead, type KeysetQuery } from '../store/keyset.js';
import { NODES_PAGE_SQL, SESSIONS_PAGE_SQL } from './page-queries.js';

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
  kind: string;
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
  kind: sessionKindOf(row.kind),
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

  /** The shared runner (store/migrations/sqlite-runner.ts), on this store's own table. */
  async migrate(): Promise<void> {
    runSqliteMigrations(this.db, identityMigrations, { table: 'accounts_schema_migrations', setting: 'accounts.database' });
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
      .prepare('INSERT INTO sessions (id, account_id, token_hash, created_at, last_used_at, kind) VALUES (?, ?, ?, ?, ?, ?)')
      .run(session.id, session.accountId, session.tokenHash, session.createdAt, session.lastUsedAt, session.kind ?? 'accounts');
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

  async listSessionsPage(accountId: string, query: SessionPageQuery): Promise<SessionRecord[]> {
    const after = query.after ?? BEFORE_ALL_TIMES;
    const live = query.live ?? { usedAfter: -1, createdAfter: -1 };
    const rows = this.db.prepare(SESSIONS_PAGE_SQL.sqlite).all(accountId, after.at, after.id, live.createdAfter, live.usedAfter, rowsToRead(query)) as SessionRow[];
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

  async listNodesPage(query: KeysetQuery<number>): Promise<NodeRecord[]> {
    return (this.db.prepare(NODES_PAGE_SQL.sqlite).all(query.after ?? 0, rowsToRead(query)) as NodeRow[]).map(toNode);
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
