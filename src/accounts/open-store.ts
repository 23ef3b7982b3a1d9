import path from 'node:path';
import { SqliteIdentityStore } from './sqlite-store.js';
import type { IdentityStore } from './store.js';

/** A store that tests and the admin CLI can also dump, to check that nothing was written. */
export type InspectableIdentityStore = IdentityStore & { snapshot(): Promise<string> };

/**
 * `accounts.database`: a SQLite file (relative to dataDir) or a postgres:// url. Not yet migrated.
 * The PostgreSQL backend (and pg) is loaded only when named, to keep a SQLite start fast.
 */
export async function openIdentityStore(database: string, dataDir: string): Promise<InspectableIdentityStore> {
  if (/^postgres(ql)?:\/\//.test(database)) {
    const { PostgresIdentityStore } = await import('./postgres-store.js');
    return new PostgresIdentityStore(database);
  }
  return new SqliteIdentityStore(path.resolve(dataDir, database));
}
