/**
 * How every PostgreSQL store of Herald (the push store, the identity store) opens its pool: the
 * schema it keeps its tables in, the server options, the timeouts, and a listener that keeps an idle
 * connection's error from ending the process.
 */
import pg from 'pg';

export interface PostgresPoolOptions {
  /** A `postgres://` url for `pg` (without Herald's own parameters; see url.ts). */
  connectionString: string;
  /** Keep the tables in this schema (the migration runner creates it) rather than the server's default. */
  schema?: string | undefined;
  /** Connections in the pool. */
  max: number;
  /** Extra server options (`-c name=value …`) to send at connect, beside the search_path. */
  serverOptions?: string | undefined;
  /** How long to wait for a new connection before failing. Default 10 s. */
  connectionTimeoutMillis?: number | undefined;
  /** How long an unused connection stays open. Default 10 s (pg's own default, named here). */
  idleTimeoutMillis?: number | undefined;
  /** Names the store in errors: `postgres store`, `accounts database`. */
  label: string;
}

export interface PostgresPool {
  readonly pool: pg.Pool;
  /** How a connection of the pool is opened, for a store that opens one outside it (fresh-connection.ts). */
  readonly connection: pg.ClientConfig;
  /** The schema, checked, or null for the server's default. */
  readonly schema: string | null;
}

/** Interpolated into search_path and CREATE/DROP SCHEMA, so held to a plain unquoted name. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function createPostgresPool(options: PostgresPoolOptions): PostgresPool {
  const schema = options.schema ?? null;
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new Error(`${options.label}: schema must be 1-63 lowercase letters, digits or _, not starting with a digit`);
  }
  if (!Number.isSafeInteger(options.max) || options.max < 1) {
    throw new Error(`${options.label}: pool size must be a whole number of at least 1`);
  }
  // search_path is set at connect, as a startup option: every pooled connection has it before its
  // first query, at no extra round trip. A schema that does not exist yet is skipped by the server
  // until migrate() creates it.
  const serverOptions = [options.serverOptions, schema === null ? undefined : `-c search_path=${schema}`]
    .filter((part) => part !== undefined && part !== '')
    .join(' ');
  const connection: pg.ClientConfig = {
    connectionString: options.connectionString,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
    ...(serverOptions === '' ? {} : { options: serverOptions }),
  };
  const pool = new pg.Pool({ ...connection, max: options.max, idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000 });
  // An idle connection that breaks (server restart, network) is dropped by the pool; without a
  // listener the 'error' event would end the process. The next query opens a fresh connection.
  pool.on('error', () => {});
  return { pool, connection, schema };
}
