import { needsNode, planAssignment } from './assignment.js';
import { sessionKindOf } from './session-kinds.js';
import type pg from 'pg';
import type { PoolClient } from 'pg';
import { runPostgresMigrations } from '../store/migrations/postgres-runner.js';
import { createPostgresPool } from '../store/postgres/pool.js';
import { parsePostgresUrl } from '../store/postgres/url.js';
import { PostgresConsoleRecords } from './postgres-console-records.js';
import { identityMigrations } from './postgres-migrations.js';
import { PostgresSsoRecords } from './postgres-sso-records.js';
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
  kind: string;
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
  kind: sessionKindOf(r.kind),
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
    const opened = createPostgresPool({
      connectionString: options.connectionString,
      schema: options.schema,
      max: options.poolSize ?? 5,
      serverOptions: options.serverOptions,
      label: 'accounts database',
    });
    this.pool = opened.pool;
    this.schema = opened.schema;
    this.console = new PostgresConsoleRecords(this.pool);
    this.sso = new PostgresSsoRecords(this.pool);
  }

  /** The shared runner (store/migrations/postgres-runner.ts), on this store's own table and lock. */
  async migrate(): Promise<void> {
    const target = { table: 'accounts_schema_migrations', setting: 'accounts.database', schema: this.schema, lockKey: MIGRATION_LOCK };
    await runPostgresMigrations(this.pool, identityMigrations, target);
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
    const values = [s.id, s.accountId, s.tokenHash, s.createdAt, s.lastUsedAt, s.kind ?? 'accounts'];
    await this.pool.query('INSERT INTO sessions (id, account_id, token_hash, created_at, last_used_at, kind) VALUES ($1, $2, $3, $4, $5, $6)', values);
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

  async listSessionsPage(accountId: string, query: SessionPageQuery): Promise<SessionRecord[]> {
    const after = query.after ?? BEFORE_ALL_TIMES;
    const live = query.live ?? { usedAfter: -1, createdAfter: -1 };
    const values = [accountId, after.at, after.id, live.createdAfter, live.usedAfter, rowsToRead(query)];
    return (await this.pool.query<SessionRow>(SESSIONS_PAGE_SQL.postgres, values)).rows.map(toSession);
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

  async listNodesPage(query: KeysetQuery<number>): Promise<NodeRecord[]> {
    return (await this.pool.query<NodeRow>(NODES_PAGE_SQL.postgres, [query.after ?? 0, rowsToRead(query)])).rows.map(toNode);
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
