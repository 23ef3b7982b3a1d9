/**
 * The PostgreSQL migration runner (store/migrations/postgres-runner.ts) against the real server:
 * the shared scenarios, each in a fresh schema dropped after it; concurrent starts; and both
 * PostgreSQL stores opening a schema laid out by the code before the runner was shared.
 * Under CI a PostgreSQL that cannot be reached fails (test/helpers/services.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { identityMigrations } from '../../src/accounts/postgres-migrations.js';
import { PostgresIdentityStore } from '../../src/accounts/postgres-store.js';
import type { Migration, MigrationOutcome } from '../../src/store/migrations/migration-list.js';
import { runPostgresMigrations, type PostgresMigrationTarget } from '../../src/store/migrations/postgres-runner.js';
import { migrations as pushMigrations } from '../../src/store/postgres/migrations.js';
import { createPostgresPool } from '../../src/store/postgres/pool.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { migrationRunnerCases, TABLE, THREE, type MigrationDatabase, type RecordedMigration } from './migrations.cases.js';

const T0 = 1_700_000_000_000;
/** Not a store's key: these tests never wait on a Herald migrating the same server. */
const TEST_LOCK = 0x7465_7374; // 'test'

requireServices([await postgresUnavailable()], (skip) => {
  if (skip) {
    describe('migration runner on postgres', { skip }, () => {});
    return;
  }

  // One administrative pool (no schema) drops what the tests made, even when a test failed.
  let admin: pg.Pool;
  const schemas = new Set<string>();
  before(() => {
    admin = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    admin.on('error', () => {});
  });
  after(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  function freshSchema(): string {
    const schema = `herald_test_migrations_${randomBytes(5).toString('hex')}`;
    schemas.add(schema);
    return schema;
  }

  async function dropSchema(schema: string): Promise<void> {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    schemas.delete(schema);
  }

  function urlFor(schema: string): string {
    const url = new URL(postgresUrl);
    url.searchParams.set('schema', schema);
    return url.toString();
  }

  const targetFor = (schema: string): PostgresMigrationTarget => ({ table: TABLE, setting: 'test.setting', schema, lockKey: TEST_LOCK });

  /** A pool whose connections live in `schema`, as a store's do. */
  const poolFor = (schema: string, max = 2): pg.Pool => createPostgresPool({ connectionString: postgresUrl, schema, max, label: 'test' }).pool;

  async function openPostgres(): Promise<MigrationDatabase> {
    const schema = freshSchema();
    const pool = poolFor(schema);
    return {
      run: (migrations) => runPostgresMigrations(pool, migrations, targetFor(schema)),
      recorded: async () => {
        const { rows } = await pool.query<{ version: number; name: string; applied_at: string }>(
          `SELECT version, name, applied_at FROM ${TABLE} ORDER BY version`,
        );
        return rows.map((row) => ({ version: row.version, name: row.name, appliedAt: Number(row.applied_at) }));
      },
      tables: async () => {
        const { rows } = await admin.query<{ table_name: string }>(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
          [schema],
        );
        return rows.map((row) => row.table_name);
      },
      rows: async (table) => (await pool.query(`SELECT * FROM ${table} ORDER BY 1`)).rows,
      close: async () => {
        await pool.end();
        await dropSchema(schema);
      },
    };
  }

  migrationRunnerCases('postgres', openPostgres);

  describe('migration runner on postgres: several processes starting at once', () => {
    test('three runners started together on a fresh schema apply each migration once', async () => {
      const schema = freshSchema();
      const pools = [poolFor(schema), poolFor(schema), poolFor(schema)];
      // Migration 1 takes a while and counts its runs: without the lock every runner would read
      // version 0 during it, run it again and fail on the table it creates.
      const slow: Migration = {
        version: 1,
        name: 'notes',
        sql: `CREATE TABLE runs (n INTEGER NOT NULL); INSERT INTO runs VALUES (1); SELECT pg_sleep(0.3);
              CREATE TABLE notes (id INTEGER NOT NULL PRIMARY KEY, body TEXT NOT NULL)`,
      };
      const list = [slow, ...THREE.slice(1)];
      try {
        const outcomes = await Promise.all(pools.map((pool) => runPostgresMigrations(pool, list, targetFor(schema))));
        const byFrom = [...outcomes].sort((a, b) => a.from - b.from);
        assert.deepEqual<MigrationOutcome[]>(byFrom, [
          { from: 0, to: 3, applied: [1, 2, 3] },
          { from: 3, to: 3, applied: [] },
          { from: 3, to: 3, applied: [] },
        ]);
        const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.runs`);
        assert.deepEqual(rows, [{ n: 1 }]);
        const recorded = await admin.query(`SELECT version FROM ${schema}.${TABLE} ORDER BY version`);
        assert.deepEqual(recorded.rows, [{ version: 1 }, { version: 2 }, { version: 3 }]);
      } finally {
        await Promise.all(pools.map((pool) => pool.end()));
        await dropSchema(schema);
      }
    });

    test('two identity stores starting together migrate their schema once', async () => {
      const schema = freshSchema();
      const stores = [new PostgresIdentityStore(urlFor(schema)), new PostgresIdentityStore(urlFor(schema))];
      try {
        await Promise.all(stores.map((store) => store.migrate()));
        const { rows } = await admin.query(`SELECT version, name FROM ${schema}.accounts_schema_migrations ORDER BY version`);
        assert.deepEqual(rows, identityMigrations.map((m) => ({ version: m.version, name: m.name })));
      } finally {
        await Promise.all(stores.map((store) => store.close()));
        await dropSchema(schema);
      }
    });

    test('the push store and the identity store create one schema at the same moment', async () => {
      const schema = freshSchema();
      const push = new PostgresStore(parsePostgresUrl(urlFor(schema)));
      const identity = new PostgresIdentityStore(urlFor(schema));
      try {
        // Each holds only its own lock: both run CREATE SCHEMA IF NOT EXISTS at once.
        await Promise.all([push.migrate(), identity.migrate()]);
        const tables = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('schema_migrations', 'accounts_schema_migrations')`,
          [schema],
        );
        assert.deepEqual(tables.rows, [{ n: 2 }]);
      } finally {
        await push.close();
        await identity.close();
        await dropSchema(schema);
      }
    });
  });

  /**
   * A schema as the code before the shared runner left it: its migrations table created with that
   * code's own statement (copied here as it was), every migration of the store applied and
   * recorded at T0. The shared runner must find it up to date and leave its rows alone.
   */
  async function migratedByPreviousCode(schema: string, table: string, createTable: string, migrations: readonly Migration[]): Promise<void> {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const pool = poolFor(schema, 1);
    try {
      await pool.query(createTable);
      for (const migration of migrations) {
        await pool.query(migration.sql);
        await pool.query(`INSERT INTO ${table} (version, name, applied_at) VALUES ($1, $2, $3)`, [migration.version, migration.name, T0]);
      }
    } finally {
      await pool.end();
    }
  }

  async function recordedIn(schema: string, table: string): Promise<RecordedMigration[]> {
    const { rows } = await admin.query<{ version: number; name: string; applied_at: string }>(
      `SELECT version, name, applied_at FROM ${schema}.${table} ORDER BY version`,
    );
    return rows.map((row) => ({ version: row.version, name: row.name, appliedAt: Number(row.applied_at) }));
  }

  describe('postgres stores open schemas migrated before the runner was shared', () => {
    test('the push store finds a schema_migrations schema up to date and uses it', async () => {
      const schema = freshSchema();
      try {
        await migratedByPreviousCode(
          schema,
          'schema_migrations',
          `CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER NOT NULL PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at BIGINT  NOT NULL
    )`,
          pushMigrations,
        );
        const store = new PostgresStore(parsePostgresUrl(urlFor(schema)));
        try {
          await store.migrate();
          await store.upsertDevice('b'.repeat(32), T0);
          assert.ok(await store.getDevice('b'.repeat(32)));
        } finally {
          await store.close();
        }
        assert.deepEqual(await recordedIn(schema, 'schema_migrations'), pushMigrations.map((m) => ({ version: m.version, name: m.name, appliedAt: T0 })));
      } finally {
        await dropSchema(schema);
      }
    });

    test('the identity store finds an accounts_schema_migrations schema up to date and uses it', async () => {
      const schema = freshSchema();
      try {
        await migratedByPreviousCode(
          schema,
          'accounts_schema_migrations',
          `CREATE TABLE IF NOT EXISTS accounts_schema_migrations (
        version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
          identityMigrations,
        );
        const store = new PostgresIdentityStore(urlFor(schema));
        try {
          await store.migrate();
          const node = await store.addNode({ service: 'push', url: 'ws://127.0.0.1:8080/', capacity: 10 });
          assert.deepEqual((await store.listNodes('push')).map((n) => n.id), [node.id]);
        } finally {
          await store.close();
        }
        assert.deepEqual(
          await recordedIn(schema, 'accounts_schema_migrations'),
          identityMigrations.map((m) => ({ version: m.version, name: m.name, appliedAt: T0 })),
        );
      } finally {
        await dropSchema(schema);
      }
    });

    test('an identity schema newer than the code is refused, naming accounts.database and both versions', async () => {
      const schema = freshSchema();
      try {
        const store = new PostgresIdentityStore(urlFor(schema));
        await store.migrate();
        await store.close();
        await admin.query(`INSERT INTO ${schema}.accounts_schema_migrations (version, name, applied_at) VALUES (999, 'from the future', $1)`, [T0]);
        const again = new PostgresIdentityStore(urlFor(schema));
        try {
          await assert.rejects(again.migrate(), new RegExp(
            `^DatabaseNewerError: the database of accounts\\.database is at schema version 999 \\(accounts_schema_migrations\\), newer than this Herald knows \\(${identityMigrations.length}\\)`,
          ));
        } finally {
          await again.close();
        }
      } finally {
        await dropSchema(schema);
      }
    });
  });

  describe('postgres pool', () => {
    test('a pool size below 1 and a schema that is not a plain name are refused, naming the store', () => {
      assert.throws(() => new PostgresIdentityStore(`${postgresUrl}?pool_size=0`), /^Error: accounts database: pool size must be a whole number of at least 1$/);
      assert.throws(() => new PostgresIdentityStore(`${postgresUrl}?schema=Bad-Name`), /^Error: accounts database: schema must be/);
    });

    test('an idle connection that the server ends does not end the process, and the next query reconnects', async () => {
      const schema = freshSchema();
      const { pool } = createPostgresPool({ connectionString: postgresUrl, schema, max: 1, label: 'test' });
      try {
        const pid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        assert.ok(pid);
        // No listener of the test's own: the pool's (pool.ts) is all that stands between the idle
        // client's 'error' and an uncaught exception. The pool drops the broken client.
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await waitFor(() => pool.totalCount === 0, 5000, 'the pool to drop the terminated connection');
        const again = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        assert.ok(again && again !== pid);
        const path = (await pool.query<{ search_path: string }>('SHOW search_path')).rows[0]?.search_path;
        assert.equal(path, schema);
      } finally {
        await pool.end();
        await dropSchema(schema);
      }
    });
  });
});
