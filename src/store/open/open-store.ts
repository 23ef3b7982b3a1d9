import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SqliteStore } from '../sqlite/sqlite-store.js';
import type { Store } from '../types.js';

export interface StoreEvents {
  /** A PostgreSQL statement was retried on a fresh connection after its connection was killed. */
  retried?(error: unknown): void;
}

/**
 * Opens the store a URL names and brings its schema up to date.
 *   sqlite:<path>      a file; a relative path is resolved from the working directory
 *   sqlite::memory:    a private in-memory database (tests)
 *   postgres://user:password@host:port/database[?schema=NAME&pool_size=N]   (or postgresql://)
 * Errors name the scheme only: a database URL may carry a password.
 */
export async function openStore(url: string, events: StoreEvents = {}): Promise<Store> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new Error('store url has no scheme; expected sqlite:<path>, sqlite::memory: or postgres://…');
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    // Loaded only when named: pg and its pool cost ~100 ms of a cold start that does not use them.
    const [{ PostgresStore }, { parsePostgresUrl }] = await Promise.all([import('../postgres/postgres-store.js'), import('../postgres/url.js')]);
    const options = parsePostgresUrl(url);
    if (events.retried) options.onRetry = events.retried;
    return migrated(new PostgresStore(options));
  }
  if (scheme !== 'sqlite') {
    throw new Error(`unsupported store scheme "${scheme}:"; this Herald supports sqlite: and postgres:`);
  }

  const location = url.slice('sqlite:'.length);
  if (location === '') throw new Error('store url sqlite: needs a path, e.g. sqlite:data/herald.db or sqlite::memory:');
  let file = ':memory:';
  if (location !== ':memory:') {
    file = path.resolve(location);
    // 0700: the database holds device ids and (encrypted) payloads.
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }

  return migrated(new SqliteStore({ path: file }));
}

async function migrated(store: Store): Promise<Store> {
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
