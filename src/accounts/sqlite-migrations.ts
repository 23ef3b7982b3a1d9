import type { Migration } from '../store/migrations/migration-list.js';
import { SESSION_KIND_MIGRATION_NAME, SESSION_KIND_MIGRATION_SQL } from './session-kinds.js';
import { CONSOLE_MIGRATION_NAME } from './console-records.js';
import { PAGE_INDEX_MIGRATION_NAME, PAGE_INDEX_MIGRATION_SQL } from './page-queries.js';
import { SQLITE_CONSOLE_MIGRATION } from './sqlite-console-records.js';
import { SQLITE_SSO_BACKCHANNEL_MIGRATION, SQLITE_SSO_MIGRATION, SSO_BACKCHANNEL_MIGRATION_NAME, SSO_MIGRATION_NAME } from './sqlite-sso-records.js';

/**
 * The identity schema as numbered migrations, recorded in `accounts_schema_migrations` (not the push
 * store's `schema_migrations`): the identity database is its own file, but keeping the names apart
 * means the two lists can never be confused if an operator points both at one database.
 * Never edit a migration that has shipped: add the next number.
 */
export const identityMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, sessions, nodes, service users',
    sql: `
      CREATE TABLE accounts (
        id              TEXT    NOT NULL PRIMARY KEY,
        email           TEXT    NOT NULL UNIQUE,
        password_hash   TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        generation      INTEGER NOT NULL,
        keys_changed_at INTEGER NOT NULL,
        last_auth_at    INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE sessions (
        id           TEXT    NOT NULL PRIMARY KEY,
        account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        token_hash   BLOB    NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_account ON sessions (account_id);

      CREATE TABLE nodes (
        id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        service      TEXT    NOT NULL,
        url          TEXT    NOT NULL,
        capacity     INTEGER NOT NULL,
        current_load INTEGER NOT NULL DEFAULT 0,
        downed       INTEGER NOT NULL DEFAULT 0,
        UNIQUE (service, url)
      ) STRICT;

      -- SQLite INTEGER is 64-bit: generation and keys_changed_at fit whatever a peer sends.
      CREATE TABLE service_users (
        uid             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        service         TEXT    NOT NULL,
        account_id      TEXT    NOT NULL,
        generation      INTEGER NOT NULL,
        keys_changed_at INTEGER NOT NULL,
        client_state    TEXT    NOT NULL,
        node_id         INTEGER NOT NULL REFERENCES nodes (id),
        created_at      INTEGER NOT NULL,
        replaced_at     INTEGER
      ) STRICT;
      CREATE INDEX service_users_account ON service_users (service, account_id, uid);
      -- At most one current record per account and service.
      CREATE UNIQUE INDEX service_users_current ON service_users (service, account_id) WHERE replaced_at IS NULL;
    `,
  },
  { version: 2, name: CONSOLE_MIGRATION_NAME, sql: SQLITE_CONSOLE_MIGRATION },
  { version: 3, name: SSO_MIGRATION_NAME, sql: SQLITE_SSO_MIGRATION },
  { version: 4, name: SESSION_KIND_MIGRATION_NAME, sql: SESSION_KIND_MIGRATION_SQL },
  { version: 5, name: SSO_BACKCHANNEL_MIGRATION_NAME, sql: SQLITE_SSO_BACKCHANNEL_MIGRATION },
  { version: 6, name: PAGE_INDEX_MIGRATION_NAME, sql: PAGE_INDEX_MIGRATION_SQL },
];
