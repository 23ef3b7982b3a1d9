/**
 * Runs a store's migrations on a better-sqlite3 connection. Every SQLite store of Herald (the push
 * store, the identity store) migrates through this one function, each with its own list and table.
 */
import type Database from 'better-sqlite3';
import { checkMigrationList, MigrationFailedError, pendingMigrations, type Migration, type MigrationOutcome, type MigrationTarget } from './migration-list.js';

/**
 * Applies what `migrations` has beyond the database's recorded version, each in its own immediate
 * transaction (SQLite DDL is transactional, so a failing one leaves nothing behind) and recorded in
 * `target.table` as (version, name, applied_at in ms). Synchronous: no other call interleaves.
 */
export function runSqliteMigrations(db: Database.Database, migrations: readonly Migration[], target: MigrationTarget): MigrationOutcome {
  checkMigrationList(migrations, target);
  // The table's layout is the one Herald has always written: existing databases keep working.
  db.exec(`CREATE TABLE IF NOT EXISTS ${target.table} (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const from = recordedVersion(db, target.table);
  const pending = pendingMigrations(migrations, from, target);
  const isApplied = db.prepare<[number], { version: number }>(`SELECT version FROM ${target.table} WHERE version = ?`);
  const record = db.prepare<[number, string, number]>(`INSERT INTO ${target.table} (version, name, applied_at) VALUES (?, ?, ?)`);
  const applied: number[] = [];
  const apply = db.transaction((migration: Migration): boolean => {
    // Re-checked under the write lock: another process (the CLI) may have applied it since we looked.
    if (isApplied.get(migration.version)) return false;
    db.exec(migration.sql);
    record.run(migration.version, migration.name, Date.now());
    return true;
  });
  for (const migration of pending) {
    try {
      if (apply.immediate(migration)) applied.push(migration.version);
    } catch (error) {
      throw new MigrationFailedError(migration.version, target, migration.name, error);
    }
  }
  return { from, to: recordedVersion(db, target.table), applied };
}

function recordedVersion(db: Database.Database, table: string): number {
  const row = db.prepare<[], { version: number | null }>(`SELECT max(version) AS version FROM ${table}`).get();
  return row?.version ?? 0;
}
