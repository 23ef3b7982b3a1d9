/**
 * Which API a session was opened by (identity migration 4). The accounts server and the web console
 * share one sessions table, so an account's sessions list in one place; each API accepts only its
 * own kind, so a console cookie's token is no bearer token for /v1/… (under the accounts' longer
 * limits), nor an accounts token a console cookie.
 */
export const SESSION_KINDS = ['accounts', 'console'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

export const SESSION_KIND_MIGRATION_NAME = 'session kinds';
/** Sessions opened before the migration were all the accounts server's or the console's; they get 'accounts' (a console user signs in again). */
export const SESSION_KIND_MIGRATION_SQL = `ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'accounts' CHECK (kind IN ('accounts', 'console'));`;

/** A stored kind as the record holds it (anything unknown is no session of either API). */
export function sessionKindOf(stored: unknown): SessionKind | 'unknown' {
  return stored === 'accounts' || stored === 'console' ? stored : 'unknown';
}
