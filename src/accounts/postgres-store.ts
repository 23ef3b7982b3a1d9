import { needsNode, planAssignment } from './assignment.js';
import pg, { type PoolClient } from 'pg';
import { parsePostgresUrl } from '../store/postgres/url.js';
import { CONSOLE_MIGRATION_NAME } from './console-records.js';
import { POSTGRES_CONSOLE_MIGRATION, PostgresConsoleRecords } from './postgres-console-records.js';
import { POSTGRES_SSO_BACKCHANNEL_MIGRATION, POSTGRES_SSO_MIGRATION, PostgresSsoRecords, SSO_BACKCHANNEL_MIGRATION_NAME, SSO_MIGRATION_NAME } from './postgres-sso-records.js';
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
 * The identity schema on PostgreSQL, numbered like the SQLite list (version 1 is the same logical
 * schema on both) and recorded in `accounts_schema_migrations`, apart from the push store's. Times,
 * generation and keys_changed_at are BIGINT: a peer may send values past 2^53.
 */
const migrations: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'accounts, sessions, nodes, service users',
    sql: `
      CREATE TABLE accounts (
        id              TEXT   NOT NULL PRIMARY KEY,
        email           TEXT   NOT NULL UNIQUE,
        password_hash   TEXT   NOT NULL,
        created_at      BIGINT NOT NULL,
        generation      BIGINT NOT NULL,
        keys_changed_at BIGINT NOT NULL,
        last_auth_at    BIGINT NOT NULL
      );
      CREATE TABLE sessions (
        id           TEXT   NOT NULL PRIMARY KEY,
        account_id   TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        token_hash   BYTEA  NOT NULL UNIQUE,
        created_at   BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL
      );
      CREATE INDEX sessions_account ON sessions (account_id);
      CREATE TABLE nodes (
        id           BIGSERIAL PRIMARY KEY,
        service      TEXT    NOT NULL,
        url          TEXT    NOT NULL,
        capacity     BIGINT  NOT NULL,
        current_load BIGINT  NOT NULL DEFAULT 0,
        downed       BOOLEAN NOT NULL DEFAULT false,
        UNIQUE (service, url)
      );
      CREATE TABLE service_users (
        uid             BIGSERIAL PRIMARY KEY,
        service         TEXT   NOT NULL,
        account_id      TEXT   NOT NULL,
        generation      BIGINT NOT NULL,
        keys_changed_at BIGINT NOT NULL,
        client_state    TEXT   NOT NULL,
        node_id         BIGINT NOT NULL REFERENCES nodes (id),
        created_at      BIGINT NOT NULL,
        replaced_at     BIGINT
      );
      CREATE INDEX service_users_account ON service_users (service, account_id, uid);
      CREATE UNIQUE INDEX service_users_current ON service_users (service, account_id) WHERE replaced_at IS NULL;
    `,
  },
  { version: 2, name: CONSOLE_MIGRATION_NAME, sql: POSTGRES_CONSOLE_MIGRATION },
  { version: 3, name: SSO_MIGRATION_NAME, sql: POSTGRES_SSO_MIGRATION },
  { version: 4, name: SSO_BACKCHANNEL_MIGRATION_NAME, sql: POSTGRES_SSO_BACKCHANNEL_MIGRATION },
];

const MIGRATION_LOCK = 0x4845_5241; // 'HERA'
const USER_LOCK = 0x4845_5255; // 'HERU'

/** BIGINT arrives as a string; values above 2^53-1 would lose precision and are refused loudly. */
function num(value: string | number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error('an identity value in PostgreSQL is beyond 2^53-1');
  return n;
}

interface AccountRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: string;
  generation: string;
  keys_changed_at: string;
  last_auth_at: string;
}
interface SessionRow {
  id: string;
  account_id: string;
  token_hash: Buffer;
  created_at: string;
  last_used_at: string;
}
interface NodeRow {
  id: string;
  service: string;
  url: string;
  capacity: string;
  current_load: string;
  downed: boolean;
}
interface UserRow {
  uid: string;
  service: string;
  account_id: string;
  generation: string;
  keys_changed_at: string;
  client_state: string;
  node_id: string;
  created_at: string;
  replaced_at: string | null;
}

const toAccount = (r: AccountRow): AccountRecord => ({
  id: r.id,
  email: r.email,
  passwordHash: r.password_hash,
  createdAt: num(r.created_at),
  generation: num(r.generation),
  keysChangedAt: num(r.keys_changed_at),
  lastAuthAt: num(r.last_auth_at),
});
const toSession = (r: SessionRow): SessionRecord => ({
  id: r.id,
  accountId: r.account_id,
  tokenHash: r.token_hash,
  createdAt: num(r.created_at),
  lastUsedAt: num(r.last_used_at),
});
const toNode = (r: NodeRow): NodeRecord => ({
  id: num(r.id),
  service: r.service,
  url: r.url,
  capacity: num(r.capacity),
  currentLoad: num(r.current_load),
  downed: r.downed,
});
const toUser = (r: UserRow): ServiceUserRecord => ({
  uid: num(r.uid),
  service: r.service,
  accountId: r.account_id,
  generation: num(r.generation),
  keysChangedAt: num(r.keys_changed_at),
  clientState: r.client_state,
  nodeId: num(r.node_id),
  createdAt: num(r.created_at),
  replacedAt: r.replaced_at === null ? null : num(r.replaced_at),
});

const USER_COLUMNS = 'uid, service, account_id, generation, keys_changed_at, client_state, node_id, created_at, replaced_at';

/** The identity store for many nodes: every Herald of a cluster points accounts.database at one database. */
export class PostgresIdentityStore implements IdentityStore {
  private readonly pool: pg.Pool;
  readonly console: PostgresConsoleRecords;
  readonly sso: PostgresSsoRecords;
  private readonly schema: string | null;
  private closed = false;

  /** `postgres://…[?schema=NAME][&pool_size=N]`, read like the push store's url. */
  constructor(url: string) {
    const options = parsePostgresUrl(url);
    this.schema = options.schema ?? null;
    if (this.schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema)) {
      throw new Error('accounts database: schema must be 1-63 lowercase letters, digits or _, not starting with a digit');
    }
    const serverOptions = [options.serverOptions, this.schema === null ? undefined : `-c search_path=${this.schema}`]
      .filter((part) => part !== undefined && part !== '')
      .join(' ');
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 5,
      connectionTimeoutMillis: 10_000,
      ...(serverOptions === '' ? {} : { options: serverOptions }),
    });
    this.pool.on('error', () => {});
    this.console = new PostgresConsoleRecords(this.pool);
    this.sso = new PostgresSsoRecords(this.pool);
  }

  async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      // Several Herald processes may start at once: one migrates, the others wait, then find nothing to do.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, this.schema ?? '']);
      if (this.schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS accounts_schema_migrations (
        version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const latest = Math.max(...migrations.map((m) => m.version));
      const current = (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM accounts_schema_migrations')).rows[0]?.v ?? 0;
      if (current > latest) throw new Error(`the accounts database is at schema version ${current}, newer than this Herald knows (${latest})`);
      for (const migration of migrations) {
        if (migration.version <= current) continue;
        await client.query(migration.sql);
        await client.query('INSERT INTO accounts_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()]);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
      throw error;
    }
  }

  async createAccount(a: AccountRecord): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO accounts (id, email, password_hash, created_at, generation, keys_changed_at, last_auth_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [a.id, a.email, a.passwordHash, a.createdAt, a.generation, a.keysChangedAt, a.lastAuthAt],
      );
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new EmailTakenError();
      throw error;
    }
  }

  async accountByEmail(email: string): Promise<AccountRecord | null> {
    const row = (await this.pool.query<AccountRow>('SELECT * FROM accounts WHERE email = $1', [email])).rows[0];
    return row ? toAccount(row) : null;
  }

  async accountById(id: string): Promise<AccountRecord | null> {
    const row = (await this.pool.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id])).rows[0];
    return row ? toAccount(row) : null;
  }

  async setLastAuthAt(accountId: string, at: number): Promise<void> {
    await this.pool.query('UPDATE accounts SET last_auth_at = $1 WHERE id = $2', [at, accountId]);
  }

  async changePassword(
    accountId: string,
    change: { passwordHash: string; generation: number; keysChangedAt: number; lastAuthAt: number },
    keepSessionId: string | null,
  ): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('UPDATE accounts SET password_hash = $1, generation = $2, keys_changed_at = $3, last_auth_at = $4 WHERE id = $5', [
        change.passwordHash,
        change.generation,
        change.keysChangedAt,
        change.lastAuthAt,
        accountId,
      ]);
      await client.query('DELETE FROM sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2', [accountId, keepSessionId]);
    });
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.pool.query('INSERT INTO sessions (id, account_id, token_hash, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5)', [
      s.id,
      s.accountId,
      s.tokenHash,
      s.createdAt,
      s.lastUsedAt,
    ]);
  }

  async sessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null> {
    const row = (await this.pool.query<SessionRow>('SELECT * FROM sessions WHERE token_hash = $1', [tokenHash])).rows[0];
    return row ? toSession(row) : null;
  }

  async touchSession(sessionId: string, at: number): Promise<void> {
    await this.pool.query('UPDATE sessions SET last_used_at = $1 WHERE id = $2', [at, sessionId]);
  }

  async listSessions(accountId: string): Promise<SessionRecord[]> {
    return (await this.pool.query<SessionRow>('SELECT * FROM sessions WHERE account_id = $1 ORDER BY created_at, id', [accountId])).rows.map(toSession);
  }

  async deleteSession(accountId: string, sessionId: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM sessions WHERE account_id = $1 AND id = $2', [accountId, sessionId])).rowCount ?? 0) > 0;
  }

  async addNode(node: { service: string; url: string; capacity: number }): Promise<NodeRecord> {
    const row = (
      await this.pool.query<NodeRow>(
        `INSERT INTO nodes (service, url, capacity) VALUES ($1, $2, $3)
         ON CONFLICT (service, url) DO UPDATE SET capacity = excluded.capacity RETURNING *`,
        [node.service, node.url, node.capacity],
      )
    ).rows[0] as NodeRow;
    return toNode(row);
  }

  async listNodes(service?: string): Promise<NodeRecord[]> {
    const result =
      service === undefined
        ? await this.pool.query<NodeRow>('SELECT * FROM nodes ORDER BY service, id')
        : await this.pool.query<NodeRow>('SELECT * FROM nodes WHERE service = $1 ORDER BY id', [service]);
    return result.rows.map(toNode);
  }

  async setNodeDowned(service: string, url: string, downed: boolean): Promise<boolean> {
    return ((await this.pool.query('UPDATE nodes SET downed = $1 WHERE service = $2 AND url = $3', [downed, service, url])).rowCount ?? 0) > 0;
  }

  async hasService(service: string): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM nodes WHERE service = $1 LIMIT 1', [service])).rowCount === 1;
  }

  async resolveUser(
    service: string,
    accountId: string,
    decide: (current: ServiceUserRecord | null, seen: ReadonlySet<string>) => UserDecision,
    now: number,
  ): Promise<UserOutcome> {
    return this.transaction(async (client) => {
      // One account's requests on one service run one at a time, including the very first (when
      // there is no row yet to lock with FOR UPDATE).
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [USER_LOCK, `${service}:${accountId}`]);
      const records = (
        await client.query<UserRow>(`SELECT ${USER_COLUMNS} FROM service_users WHERE service = $1 AND account_id = $2 ORDER BY uid`, [service, accountId])
      ).rows.map(toUser);
      const current = records.find((record) => record.replacedAt === null) ?? null;
      const seen = new Set(records.map((record) => record.clientState).filter((state) => state !== ''));
      const decision = decide(current, seen);
      if (decision.kind === 'refuse') return { kind: 'refused', reason: decision.reason, detail: decision.detail } as const;

      const nodeOf = async (id: number) => {
        const row = (await client.query<NodeRow>('SELECT * FROM nodes WHERE id = $1', [id])).rows[0];
        return row ? toNode(row) : null;
      };
      const currentNode = current ? await nodeOf(current.nodeId) : null;
      let freshNode: NodeRecord | null = null;
      if (needsNode(currentNode)) {
        const row = (
          await client.query<NodeRow>(
            `SELECT * FROM nodes WHERE service = $1 AND NOT downed AND capacity > current_load
             ORDER BY capacity - current_load DESC, id LIMIT 1 FOR UPDATE`,
            [service],
          )
        ).rows[0];
        freshNode = row ? toNode(row) : null;
      }
      const plan = planAssignment(decision, current, currentNode, freshNode, now);
      if (plan.kind === 'noNode') return plan;
      let inserted = 0;
      for (const step of plan.steps) {
        if (step.op === 'retire') await client.query('UPDATE service_users SET replaced_at = $1 WHERE uid = $2', [now, step.uid]);
        else if (step.op === 'insert') {
          const result = await client.query<{ uid: string }>(
            `INSERT INTO service_users (service, account_id, generation, keys_changed_at, client_state, node_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING uid`,
            [service, accountId, step.generation, step.keysChangedAt, step.clientState, step.nodeId, now],
          );
          inserted = num(result.rows[0]?.uid as string);
        } else if (step.op === 'update') {
          await client.query('UPDATE service_users SET generation = $1, keys_changed_at = $2 WHERE uid = $3', [step.generation, step.keysChangedAt, step.uid]);
        } else if (step.op === 'move') await client.query('UPDATE service_users SET node_id = $1 WHERE uid = $2', [step.nodeId, step.uid]);
        else await client.query('UPDATE nodes SET current_load = GREATEST(0, current_load + $1) WHERE id = $2', [step.delta, step.nodeId]);
      }
      const uid = plan.uid === 'inserted' ? inserted : plan.uid;
      const user = toUser((await client.query<UserRow>(`SELECT ${USER_COLUMNS} FROM service_users WHERE uid = $1`, [uid])).rows[0] as UserRow);
      return { kind: 'ok', user, node: (await nodeOf(plan.nodeId)) as NodeRecord, retired: plan.retired, moved: plan.moved } as const;
    });
  }

  async userHistory(service: string, accountId: string): Promise<ServiceUserRecord[]> {
    return (
      await this.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM service_users WHERE service = $1 AND account_id = $2 ORDER BY uid`, [service, accountId])
    ).rows.map(toUser);
  }

  /** Every row of every table, for tests that check a refused request wrote nothing. */
  async snapshot(): Promise<string> {
    const tables = ['accounts', 'sessions', 'nodes', 'service_users', 'console_apps', 'account_roles', 'sso_apps', 'sso_codes'];
    const dumps = [];
    for (const table of tables) dumps.push((await this.pool.query(`SELECT * FROM ${table} ORDER BY 1`)).rows);
    return JSON.stringify(dumps);
  }

  /** Drops the schema (tests). */
  async dropSchema(): Promise<void> {
    if (this.schema !== null) await this.pool.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }
}
