/**
 * The SQLite migration runner (store/migrations/sqlite-runner.ts) on real databases: the shared
 * scenarios on a temporary file each, and both SQLite stores opening a database laid out by the
 * code before the runner was shared.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { identityMigrations } from '../../src/accounts/sqlite-migrations.js';
import { SqliteIdentityStore } from '../../src/accounts/sqlite-store.js';
import type { Migration } from '../../src/store/migrations/migration-list.js';
import { runSqliteMigrations } from '../../src/store/migrations/sqlite-runner.js';
import { migrations as pushMigrations } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { migrationRunnerCases, TABLE, THREE, type MigrationDatabase, type RecordedMigration } from './migrations.cases.js';

const T0 = 1_700_000_000_000;
const root = mkdtempSync(path.join(tmpdir(), 'herald-migrations-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A path in a folder of its own (made here: SQLite makes the file, not its folder). */
function freshFile(name = 'test.db'): string {
  counter++;
  const folder = path.join(root, `case-${counter}`);
  mkdirSync(folder, { mode: 0o700 });
  return path.join(folder, name);
}

function openSqlite(): Promise<MigrationDatabase> {
  const file = freshFile();
  return Promise.resolve(sqliteDatabase(new Database(file), file));
}

function sqliteDatabase(db: Database.Database, file: string): MigrationDatabase {
  return {
    run: async (migrations) => runSqliteMigrations(db, migrations, { table: TABLE, setting: 'test.setting' }),
    recorded: async () =>
      db.prepare<[], RecordedMigration>(`SELECT version, name, applied_at AS appliedAt FROM ${TABLE} ORDER BY version`).all(),
    tables: async () =>
      db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .all()
        .map((row) => row.name),
    rows: async (table) => db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all(),
    close: async () => {
      db.close();
      rmSync(path.dirname(file), { recursive: true, force: true });
    },
  };
}

migrationRunnerCases('sqlite', openSqlite);

describe('migration runner on sqlite: two connections to one file', () => {
  test('a connection finds what another connection (the CLI, say) applied and applies only the rest', async () => {
    const file = freshFile();
    const ours = new Database(file);
    const theirs = new Database(file);
    try {
      runSqliteMigrations(ours, THREE.slice(0, 1), { table: TABLE, setting: 'test.setting' });
      runSqliteMigrations(theirs, THREE.slice(0, 2), { table: TABLE, setting: 'test.setting' });
      const outcome = runSqliteMigrations(ours, THREE, { table: TABLE, setting: 'test.setting' });
      assert.deepEqual(outcome, { from: 2, to: 3, applied: [3] });
      assert.deepEqual(ours.prepare('SELECT id FROM notes').all(), [{ id: 1 }]);
    } finally {
      ours.close();
      theirs.close();
    }
  });
});

/**
 * A database as the code before the shared runner left it: its migrations table created with that
 * code's own statement (copied here as it was), every migration of the store applied and recorded
 * at T0. The shared runner must find it up to date and leave its rows alone.
 */
function migratedByPreviousCode(file: string, table: string, createTable: string, migrations: readonly Migration[]): void {
  const db = new Database(file);
  try {
    db.exec(createTable);
    for (const migration of migrations) {
      db.exec(migration.sql);
      db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`).run(migration.version, migration.name, T0);
    }
  } finally {
    db.close();
  }
}

function recordedIn(file: string, table: string): RecordedMigration[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[], RecordedMigration>(`SELECT version, name, applied_at AS appliedAt FROM ${table} ORDER BY version`).all();
  } finally {
    db.close();
  }
}

describe('sqlite stores open databases migrated before the runner was shared', () => {
  test('the push store finds a schema_migrations database up to date and uses it', async () => {
    const file = freshFile('herald.db');
    migratedByPreviousCode(
      file,
      'schema_migrations',
      `CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER NOT NULL PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`,
      pushMigrations,
    );
    const store = new SqliteStore({ path: file });
    try {
      await store.migrate();
      await store.upsertDevice('a'.repeat(32), T0);
      assert.ok(await store.getDevice('a'.repeat(32)));
    } finally {
      await store.close();
    }
    const recorded = recordedIn(file, 'schema_migrations');
    assert.deepEqual(recorded, pushMigrations.map((m) => ({ version: m.version, name: m.name, appliedAt: T0 })));
    const db = new Database(file);
    try {
      assert.deepEqual(runSqliteMigrations(db, pushMigrations, { table: 'schema_migrations', setting: 'store.url' }).applied, []);
    } finally {
      db.close();
    }
  });

  test('the identity store finds an accounts_schema_migrations database up to date and uses it', async () => {
    const file = freshFile('accounts.sqlite');
    migratedByPreviousCode(
      file,
      'accounts_schema_migrations',
      `CREATE TABLE IF NOT EXISTS accounts_schema_migrations (
      version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
      identityMigrations,
    );
    const store = new SqliteIdentityStore(file);
    try {
      await store.migrate();
      const node = await store.addNode({ service: 'push', url: 'ws://127.0.0.1:8080/', capacity: 10 });
      assert.deepEqual((await store.listNodes('push')).map((n) => n.id), [node.id]);
    } finally {
      await store.close();
    }
    assert.deepEqual(
      recordedIn(file, 'accounts_schema_migrations'),
      identityMigrations.map((m) => ({ version: m.version, name: m.name, appliedAt: T0 })),
    );
  });

  test('the push store and the identity store keep their own tables in one file', async () => {
    const file = freshFile('shared.db');
    const push = new SqliteStore({ path: file });
    const identity = new SqliteIdentityStore(file);
    try {
      await push.migrate();
      await identity.migrate();
    } finally {
      await push.close();
      await identity.close();
    }
    assert.equal(recordedIn(file, 'schema_migrations').length, pushMigrations.length);
    assert.equal(recordedIn(file, 'accounts_schema_migrations').length, identityMigrations.length);
  });
});
