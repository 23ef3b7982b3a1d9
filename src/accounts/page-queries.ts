/**
 * The console's paged reads of the identity database, one statement per engine, kept here so the
 * plan tests (test/console/store-pages.test.ts) EXPLAIN exactly what the stores run. Each is a
 * keyset seek: a row-value comparison on the columns of an index that starts with the equality
 * column, in the index's order, so a late page costs what the first one does (no sort, no OFFSET).
 * SQLite (3.15+) compares row values like PostgreSQL and uses the index for them.
 */

/** Identity migration 6: the indexes those seeks run on (both engines speak this SQL). */
export const PAGE_INDEX_MIGRATION_NAME = 'keyset indexes for the console tables';
export const PAGE_INDEX_MIGRATION_SQL = `
  -- (account_id, created_at) did not hold the tie-breaker: a page boundary inside one millisecond
  -- needed a sort of the account's rows. The new index also serves every query the old one did.
  DROP INDEX console_apps_account;
  CREATE INDEX console_apps_account_page ON console_apps (account_id, created_at, id);
  DROP INDEX sessions_account;
  CREATE INDEX sessions_account_page ON sessions (account_id, created_at, id);
`;

/** Parameters: account, after.at, after.id, limit. */
export const APPS_PAGE_SQL = {
  sqlite: 'SELECT * FROM console_apps WHERE account_id = ? AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?',
  postgres: 'SELECT * FROM console_apps WHERE account_id = $1 AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4',
} as const;

/** Parameters: account, after.at, after.id, createdAfter, usedAfter, limit (liveSince in sign-in.ts). */
export const SESSIONS_PAGE_SQL = {
  sqlite: `SELECT * FROM sessions WHERE account_id = ? AND (created_at, id) > (?, ?) AND created_at > ? AND last_used_at > ?
           ORDER BY created_at, id LIMIT ?`,
  postgres: `SELECT * FROM sessions WHERE account_id = $1 AND (created_at, id) > ($2, $3) AND created_at > $4 AND last_used_at > $5
             ORDER BY created_at, id LIMIT $6`,
} as const;

/** Parameters: after (node ids start at 1), limit. The primary key serves it. */
export const NODES_PAGE_SQL = {
  sqlite: 'SELECT * FROM nodes WHERE id > ? ORDER BY id LIMIT ?',
  postgres: 'SELECT * FROM nodes WHERE id > $1 ORDER BY id LIMIT $2',
} as const;
