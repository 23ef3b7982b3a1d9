import type Database from 'better-sqlite3';
import { BEFORE_ALL_TIMES, rowsToRead, type KeysetQuery, type TimeKey } from '../store/keyset.js';
import { APPS_PAGE_SQL } from './page-queries.js';
import { ROLES, type AppRecord, type ConsoleRecords, type Role } from './console-records.js';

export const SQLITE_CONSOLE_MIGRATION = `
  CREATE TABLE console_apps (
    id          TEXT    NOT NULL PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    public_key  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
  ) STRICT;
  CREATE INDEX console_apps_account ON console_apps (account_id, created_at);
  CREATE TABLE account_roles (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    PRIMARY KEY (account_id, role)
  ) STRICT;
`;

interface AppRow {
  id: string;
  account_id: string;
  name: string;
  public_key: string;
  created_at: number;
  revoked_at: number | null;
}

const toApp = (row: AppRow): AppRecord => ({
  id: row.id,
  accountId: row.account_id,
  name: row.name,
  publicKey: row.public_key,
  createdAt: row.created_at,
  revokedAt: row.revoked_at,
});

export class SqliteConsoleRecords implements ConsoleRecords {
  constructor(private readonly db: Database.Database) {}

  async createApp(app: AppRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO console_apps (id, account_id, name, public_key, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(app.id, app.accountId, app.name, app.publicKey, app.createdAt, app.revokedAt);
  }

  async listAppsPage(accountId: string, query: KeysetQuery<TimeKey>): Promise<AppRecord[]> {
    const after = query.after ?? BEFORE_ALL_TIMES;
    return (this.db.prepare(APPS_PAGE_SQL.sqlite).all(accountId, after.at, after.id, rowsToRead(query)) as AppRow[]).map(toApp);
  }

  async appById(accountId: string, id: string): Promise<AppRecord | null> {
    const row = this.db.prepare('SELECT * FROM console_apps WHERE account_id = ? AND id = ?').get(accountId, id) as AppRow | undefined;
    return row ? toApp(row) : null;
  }

  async markAppRevoked(accountId: string, id: string, at: number): Promise<boolean> {
    const result = this.db.prepare('UPDATE console_apps SET revoked_at = coalesce(revoked_at, ?) WHERE account_id = ? AND id = ?').run(at, accountId, id);
    return result.changes > 0;
  }

  async deleteApp(accountId: string, id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM console_apps WHERE account_id = ? AND id = ?').run(accountId, id).changes > 0;
  }

  async grantRole(accountId: string, role: Role): Promise<boolean> {
    return this.db.prepare('INSERT OR IGNORE INTO account_roles (account_id, role) VALUES (?, ?)').run(accountId, role).changes > 0;
  }

  async revokeRole(accountId: string, role: Role): Promise<boolean> {
    return this.db.prepare('DELETE FROM account_roles WHERE account_id = ? AND role = ?').run(accountId, role).changes > 0;
  }

  async rolesOf(accountId: string): Promise<Role[]> {
    const rows = this.db.prepare('SELECT role FROM account_roles WHERE account_id = ? ORDER BY role').all(accountId) as Array<{ role: string }>;
    return rows.map((row) => row.role).filter((role): role is Role => (ROLES as readonly string[]).includes(role));
  }
}
