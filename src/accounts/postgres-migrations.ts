import type { Migration } from '../store/migrations/migration-list.js';
import { SESSION_KIND_MIGRATION_NAME, SESSION_KIND_MIGRATION_SQL } from './session-kinds.js';
import { CONSOLE_MIGRATION_NAME } from './console-records.js';
import { PAGE_INDEX_MIGRATION_NAME, PAGE_INDEX_MIGRATION_SQL } from './page-queries.js';
import { POSTGRES_CONSOLE_MIGRATION } from './postgres-console-records.js';
import { POSTGRES_SSO_BACKCHANNEL_MIGRATION, POSTGRES_SSO_MIGRATION, SSO_BACKCHANNEL_MIGRATION_NAME, SSO_MIGRATION_NAME } from './postgres-sso-records.js';

/**
 * The identity schema on PostgreSQL, numbered like the SQLite list (version 1 is the same logical
 * schema on both) and recorded in `accounts_schema_migrations`, apart from the push store's. Times,
 * generation and keys_changed_at are BIGINT: a peer may send values past 2^53.
 */
export const identityMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, sessions, nodes, service users',
    sql: `
      CREATE TABLE accounts (
        id              TEXT   NOT NULL PRIMARY KEY,
        email           TEXT   NOT NULL UNIQUE,
        password_hash   TEXT   NOT NULL,
        created_at      BIGINT NOT NULL,
        generation      BIGINT NOT NULL,
        keys_changed_at BIGINT NOT NULL,
        last_auth_at    BIGINT NOT NULL
      );
      CREATE TABLE sessions (
        id           TEXT   NOT NULL PRIMARY KEY,
        account_id   TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        token_hash   BYTEA  NOT NULL UNIQUE,
        created_at   BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL
      );
      CREATE INDEX sessions_account ON sessions (account_id);
      CREATE TABLE nodes (
        id           BIGSERIAL PRIMARY KEY,
        service      TEXT    NOT NULL,
        url          TEXT    NOT NULL,
        capacity     BIGINT  NOT NULL,
        current_load BIGINT  NOT NULL DEFAULT 0,
        downed       BOOLEAN NOT NULL DEFAULT false,
        UNIQUE (service, url)
      );
      CREATE TABLE service_users (
        uid             BIGSERIAL PRIMARY KEY,
        service         TEXT   NOT NULL,
        account_id      TEXT   NOT NULL,
        generation      BIGINT NOT NULL,
        keys_changed_at BIGINT NOT NULL,
        client_state    TEXT   NOT NULL,
        node_id         BIGINT NOT NULL REFERENCES nodes (id),
        created_at      BIGINT NOT NULL,
        replaced_at     BIGINT
      );
      CREATE INDEX service_users_account ON service_users (service, account_id, uid);
      CREATE UNIQUE INDEX service_users_current ON service_users (service, account_id) WHERE replaced_at IS NULL;
    `,
  },
  { version: 2, name: CONSOLE_MIGRATION_NAME, sql: POSTGRES_CONSOLE_MIGRATION },
  { version: 3, name: SSO_MIGRATION_NAME, sql: POSTGRES_SSO_MIGRATION },
  { version: 4, name: SESSION_KIND_MIGRATION_NAME, sql: SESSION_KIND_MIGRATION_SQL },
  { version: 5, name: SSO_BACKCHANNEL_MIGRATION_NAME, sql: POSTGRES_SSO_BACKCHANNEL_MIGRATION },
  { version: 6, name: PAGE_INDEX_MIGRATION_NAME, sql: PAGE_INDEX_MIGRATION_SQL },
];
