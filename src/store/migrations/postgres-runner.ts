/**
 * Runs a store's migrations on PostgreSQL. Every PostgreSQL store of Herald (the push store, the
 * identity store) migrates through this one function, each with its own list, table and lock.
 */
import type pg from 'pg';
import { checkMigrationList, MigrationFailedError, pendingMigrations, type Migration, type MigrationOutcome, type MigrationTarget } from './migration-list.js';

export interface PostgresMigrationTarget extends MigrationTarget {
  /**
   * The schema the pool's connections have as search_path (store/postgres/pool.ts), created here
   * if missing; null for the server's default.
   */
  readonly schema: string | null;
  /**
   * The first key of the advisory lock held while migrating (the second is the schema's hash, so
   * isolated schemas, as in tests, do not wait on each other). A store keeps its key forever: a
   * node of the previous release, starting during a rolling upgrade, takes the same lock.
   */
  readonly lockKey: number;
}

/** PostgreSQL's unique_violation and duplicate_schema: two CREATE SCHEMA IF NOT EXISTS raced. */
const SCHEMA_RACE = new Set(['23505', '42P06']);

/**
 * Applies what `migrations` has beyond the database's recorded version, each in its own
 * transaction and recorded in `target.table` as (version, name, applied_at in ms). Several Herald
 * processes may start at once: under the advisory lock one migrates, the others wait and then find
 * nothing left to do.
 */
export async function runPostgresMigrations(pool: pg.Pool, migrations: readonly Migration[], target: PostgresMigrationTarget): Promise<MigrationOutcome> {
  checkMigrationList(migrations, target);
  const client = await pool.connect();
  const lock = [target.lockKey, target.schema ?? ''];
  let outcome: MigrationOutcome;
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', lock);
    outcome = await migrateLocked(client, migrations, target);
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', lock);
  } catch (error) {
    // Destroying the connection also ends its session, which releases the lock.
    client.release(true);
    throw error;
  }
  client.release();
  return outcome;
}

async function migrateLocked(client: pg.PoolClient, migrations: readonly Migration[], target: PostgresMigrationTarget): Promise<MigrationOutcome> {
  if (target.schema !== null) await createSchema(client, target.schema);
  // The table's layout is the one Herald has always written: existing databases keep working.
  await client.query(`CREATE TABLE IF NOT EXISTS ${target.table} (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
  )`);
  const result = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${target.table}`);
  const from = result.rows[0]?.version ?? 0;
  const applied: number[] = [];
  for (const migration of pendingMigrations(migrations, from, target)) {
    await applyOne(client, migration, target);
    applied.push(migration.version);
  }
  return { from, to: applied.at(-1) ?? from, applied };
}

async function applyOne(client: pg.PoolClient, migration: Migration, target: PostgresMigrationTarget): Promise<void> {
  await client.query('BEGIN');
  try {
    // No parameters: the simple query protocol, which runs the several statements of one migration.
    await client.query(migration.sql);
    await client.query(`INSERT INTO ${target.table} (version, name, applied_at) VALUES ($1, $2, $3)`, [
      migration.version,
      migration.name,
      Date.now(),
    ]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw new MigrationFailedError(migration.version, target, migration.name, error);
  }
}

/**
 * The push store and the identity store may share a schema, and each holds only its own lock: the
 * loser of two simultaneous CREATE SCHEMA IF NOT EXISTS gets a unique violation, though the schema
 * now exists as it wanted.
 */
async function createSchema(client: pg.PoolClient, schema: string): Promise<void> {
  const statement = `CREATE SCHEMA IF NOT EXISTS "${schema.replaceAll('"', '""')}"`;
  try {
    await client.query(statement);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string' || !SCHEMA_RACE.has(code)) throw error;
    await client.query(statement);
  }
}
