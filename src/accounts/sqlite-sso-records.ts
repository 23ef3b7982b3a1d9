import type Database from 'better-sqlite3';
import { toSsoGrant, type CodeConsumption, type SsoAppRecord, type SsoCodeRecord, type SsoGrantRecord, type SsoGrantRow, type SsoRecords } from './sso-records.js';

export { SSO_BACKCHANNEL_MIGRATION_NAME, SSO_MIGRATION_NAME } from './sso-records.js';

/** Identity migration 5: where each app is told of sign-outs, and which sessions were minted for which app. */
export const SQLITE_SSO_BACKCHANNEL_MIGRATION = `
  ALTER TABLE sso_apps ADD COLUMN backchannel_logout_uri TEXT;
  CREATE TABLE sso_grants (
    account_id         TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id          TEXT    NOT NULL REFERENCES sso_apps (client_id) ON DELETE CASCADE,
    session_id         TEXT    NOT NULL,
    origin_session_id  TEXT    NOT NULL,
    sid                TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (account_id, origin_session_id, session_id)
  ) STRICT;
  CREATE INDEX sso_grants_age ON sso_grants (created_at);
`;

export const SQLITE_SSO_MIGRATION = `
  CREATE TABLE sso_apps (
    client_id     TEXT    NOT NULL PRIMARY KEY,
    redirect_uri  TEXT    NOT NULL,
    origin        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX sso_apps_origin ON sso_apps (origin);
  CREATE TABLE sso_codes (
    code_hash       BLOB    NOT NULL PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES sso_apps (client_id) ON DELETE CASCADE,
    redirect_uri    TEXT    NOT NULL,
    code_challenge  TEXT    NOT NULL,
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id      TEXT    NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
  ) STRICT;
  CREATE INDEX sso_codes_expiry ON sso_codes (expires_at);
`;

interface AppRow {
  client_id: string;
  redirect_uri: string;
  origin: string;
  created_at: number;
  backchannel_logout_uri: string | null;
}
interface CodeRow {
  code_hash: Buffer;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  account_id: string;
  session_id: string;
  expires_at: number;
  used_at: number | null;
}

const toApp = (row: AppRow): SsoAppRecord => ({ clientId: row.client_id, redirectUri: row.redirect_uri, origin: row.origin, createdAt: row.created_at, backchannelLogoutUri: row.backchannel_logout_uri ?? null });
const toCode = (row: CodeRow): SsoCodeRecord => ({
  codeHash: row.code_hash,
  clientId: row.client_id,
  redirectUri: row.redirect_uri,
  codeChallenge: row.code_challenge,
  accountId: row.account_id,
  sessionId: row.session_id,
  expiresAt: row.expires_at,
  usedAt: row.used_at,
});

export class SqliteSsoRecords implements SsoRecords {
  constructor(private readonly db: Database.Database) {}

  async addApp(app: SsoAppRecord): Promise<boolean> {
    const result = this.db
      .prepare('INSERT OR IGNORE INTO sso_apps (client_id, redirect_uri, origin, created_at, backchannel_logout_uri) VALUES (?, ?, ?, ?, ?)')
      .run(app.clientId, app.redirectUri, app.origin, app.createdAt, app.backchannelLogoutUri ?? null);
    return result.changes > 0;
  }

  async appById(clientId: string): Promise<SsoAppRecord | null> {
    const row = this.db.prepare('SELECT * FROM sso_apps WHERE client_id = ?').get(clientId) as AppRow | undefined;
    return row ? toApp(row) : null;
  }

  async appByOrigin(origin: string): Promise<SsoAppRecord | null> {
    const row = this.db.prepare('SELECT * FROM sso_apps WHERE origin = ? ORDER BY created_at LIMIT 1').get(origin) as AppRow | undefined;
    return row ? toApp(row) : null;
  }

  async listApps(): Promise<SsoAppRecord[]> {
    return (this.db.prepare('SELECT * FROM sso_apps ORDER BY client_id').all() as AppRow[]).map(toApp);
  }

  async removeApp(clientId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM sso_apps WHERE client_id = ?').run(clientId).changes > 0;
  }

  async createCode(code: SsoCodeRecord, now: number): Promise<void> {
    this.db.prepare('DELETE FROM sso_codes WHERE expires_at < ?').run(now);
    this.db
      .prepare(
        'INSERT INTO sso_codes (code_hash, client_id, redirect_uri, code_challenge, account_id, session_id, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(code.codeHash, code.clientId, code.redirectUri, code.codeChallenge, code.accountId, code.sessionId, code.expiresAt, code.usedAt);
  }

  async consumeCode(codeHash: Buffer, at: number): Promise<CodeConsumption> {
    const consume = this.db.transaction((): CodeConsumption => {
      const row = this.db.prepare('SELECT * FROM sso_codes WHERE code_hash = ?').get(codeHash) as CodeRow | undefined;
      if (!row) return { kind: 'unknown' };
      if (row.used_at !== null) return { kind: 'replayed', code: toCode(row) };
      this.db.prepare('UPDATE sso_codes SET used_at = ? WHERE code_hash = ?').run(at, codeHash);
      return { kind: 'fresh', code: toCode(row) };
    });
    return consume.immediate();
  }

  async addGrant(grant: SsoGrantRecord, pruneBefore: number): Promise<void> {
    this.db.prepare('DELETE FROM sso_grants WHERE created_at < ?').run(pruneBefore);
    this.db
      .prepare('INSERT OR IGNORE INTO sso_grants (account_id, client_id, session_id, origin_session_id, sid, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(grant.accountId, grant.clientId, grant.sessionId, grant.originSessionId, grant.sid, grant.createdAt);
  }

  async takeGrants(accountId: string, originSessionId: string, clientId?: string): Promise<SsoGrantRecord[]> {
    const rows = (
      clientId === undefined
        ? this.db.prepare('DELETE FROM sso_grants WHERE account_id = ? AND origin_session_id = ? RETURNING *').all(accountId, originSessionId)
        : this.db.prepare('DELETE FROM sso_grants WHERE account_id = ? AND origin_session_id = ? AND client_id = ? RETURNING *').all(accountId, originSessionId, clientId)
    ) as SsoGrantRow[];
    return rows.map(toSsoGrant);
  }
}
