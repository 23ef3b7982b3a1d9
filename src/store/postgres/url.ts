import type { PostgresStoreOptions } from './postgres-store.js';

/** Query parameters Herald reads itself; every other one is left to `pg` (sslmode, application_name, …). */
const SCHEMA_PARAM = 'schema';
const POOL_SIZE_PARAM = 'pool_size';

/**
 * Reads a `postgres://` or `postgresql://` store url into store options:
 *   ?schema=NAME     keep Herald's tables in this schema (created if missing)
 *   ?pool_size=N     connections in the pool (default 10)
 * Errors never repeat the url: it may carry a password.
 */
export function parsePostgresUrl(url: string): PostgresStoreOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not `{ cause }`: the TypeError from URL carries the input, password included.
    throw new Error('store url postgres: is not a valid url; expected postgres://user:password@host:port/database');
  }
  const options: PostgresStoreOptions = { connectionString: '' };

  const schema = parsed.searchParams.get(SCHEMA_PARAM);
  if (schema !== null) {
    options.schema = schema;
    parsed.searchParams.delete(SCHEMA_PARAM);
  }
  const poolSize = parsed.searchParams.get(POOL_SIZE_PARAM);
  if (poolSize !== null) {
    if (!/^[0-9]+$/.test(poolSize)) throw new Error(`store url postgres: ${POOL_SIZE_PARAM} must be a whole number`);
    options.poolSize = Number(poolSize);
    parsed.searchParams.delete(POOL_SIZE_PARAM);
  }
  // `pg` lets an `options` parameter in the url override the one the store sets (search_path),
  // so it is taken out here and the store appends its own to it.
  const extra = parsed.searchParams.get('options');
  if (extra !== null) {
    options.serverOptions = extra;
    parsed.searchParams.delete('options');
  }

  options.connectionString = parsed.toString();
  return options;
}
