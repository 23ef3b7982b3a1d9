import path from 'node:path';
import { PostgresIdentityStore } from './postgres-store.js';
import { SqliteIdentityStore } from './sqlite-store.js';
import type { IdentityStore } from './store.js';

/** A store that tests and the admin CLI can also dump, to check that nothing was written. */
export type InspectableIdentityStore = IdentityStore & { snapshot(): Promise<string> };

/** `accounts.database`: a SQLite file (relative to dataDir) or a postgres:// url. Not yet migrated. */
export function openIdentityStore(database: string, dataDir: string): InspectableIdentityStore {
  if (/^postgres(ql)?:\/\//.test(database)) return new PostgresIdentityStore(database);
  return new SqliteIdentityStore(path.resolve(dataDir, database));
}
