import type pg from 'pg';
import { BEFORE_ALL_TIMES, rowsToRead, type KeysetQuery, type TimeKey } from '../store/keyset.js';
import { APPS_PAGE_SQL } from './page-queries.js';
import { ROLES, type AppRecord, type ConsoleRecords, type Role } from './console-records.js';

export const POSTGRES_CONSOLE_MIGRATION = `
  CREATE TABLE console_apps (
    id          TEXT   NOT NULL PRIMARY KEY,
    account_id  TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT   NOT NULL,
    public_key  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
  );
  CREATE INDEX console_apps_account ON console_apps (account_id, created_at);
  CREATE TABLE account_roles (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    PRIMARY KEY (account_id, role)
  );
`;

interface AppRow {
  id: string;
  account_id: string;
  name: string;
  public_key: string;
  created_at: string;
  revoked_at: string | null;
}

const toApp = (row: AppRow): AppRecord => ({
  id: row.id,
  accountId: row.account_id,
  name: row.name,
  publicKey: row.public_key,
  createdAt: Number(row.created_at),
  revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
});

export class PostgresConsoleRecords implements ConsoleRecords {
  constructor(private readonly pool: pg.Pool) {}

  async createApp(app: AppRecord): Promise<void> {
    await this.pool.query('INSERT INTO console_apps (id, account_id, name, public_key, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      app.id,
      app.accountId,
      app.name,
      app.publicKey,
      app.createdAt,
      app.revokedAt,
    ]);
  }

  async listAppsPage(accountId: string, query: KeysetQuery<TimeKey>): Promise<AppRecord[]> {
    const after = query.after ?? BEFORE_ALL_TIMES;
    return (await this.pool.query<AppRow>(APPS_PAGE_SQL.postgres, [accountId, after.at, after.id, rowsToRead(query)])).rows.map(toApp);
  }

  async appById(accountId: string, id: string): Promise<AppRecord | null> {
    const row = (await this.pool.query<AppRow>('SELECT * FROM console_apps WHERE account_id = $1 AND id = $2', [accountId, id])).rows[0];
    return row ? toApp(row) : null;
  }

  async markAppRevoked(accountId: string, id: string, at: number): Promise<boolean> {
    const result = await this.pool.query('UPDATE console_apps SET revoked_at = coalesce(revoked_at, $1) WHERE account_id = $2 AND id = $3', [at, accountId, id]);
    return (result.rowCount ?? 0) > 0;
  }

  async deleteApp(accountId: string, id: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM console_apps WHERE account_id = $1 AND id = $2', [accountId, id])).rowCount ?? 0) > 0;
  }

  async grantRole(accountId: string, role: Role): Promise<boolean> {
    const result = await this.pool.query('INSERT INTO account_roles (account_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING', [accountId, role]);
    return (result.rowCount ?? 0) > 0;
  }

  async revokeRole(accountId: string, role: Role): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM account_roles WHERE account_id = $1 AND role = $2', [accountId, role])).rowCount ?? 0) > 0;
  }

  async rolesOf(accountId: string): Promise<Role[]> {
    const rows = (await this.pool.query<{ role: string }>('SELECT role FROM account_roles WHERE account_id = $1 ORDER BY role', [accountId])).rows;
    return rows.map((row) => row.role).filter((role): role is Role => (ROLES as readonly string[]).includes(role));
  }
}
