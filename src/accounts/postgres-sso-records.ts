import type pg from 'pg';
import { toSsoGrant, type CodeConsumption, type SsoAppRecord, type SsoCodeRecord, type SsoGrantRecord, type SsoGrantRow, type SsoRecords } from './sso-records.js';

export { SSO_BACKCHANNEL_MIGRATION_NAME, SSO_MIGRATION_NAME } from './sso-records.js';

/** Identity migration 5: where each app is told of sign-outs, and which sessions were minted for which app. */
export const POSTGRES_SSO_BACKCHANNEL_MIGRATION = `
  ALTER TABLE sso_apps ADD COLUMN backchannel_logout_uri TEXT;
  CREATE TABLE sso_grants (
    account_id         TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id          TEXT    NOT NULL REFERENCES sso_apps (client_id) ON DELETE CASCADE,
    session_id         TEXT    NOT NULL,
    origin_session_id  TEXT    NOT NULL,
    sid                TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    PRIMARY KEY (account_id, origin_session_id, session_id)
  );
  CREATE INDEX sso_grants_age ON sso_grants (created_at);
`;

export const POSTGRES_SSO_MIGRATION = `
  CREATE TABLE sso_apps (
    client_id     TEXT   NOT NULL PRIMARY KEY,
    redirect_uri  TEXT   NOT NULL,
    origin        TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
  );
  CREATE INDEX sso_apps_origin ON sso_apps (origin);
  CREATE TABLE sso_codes (
    code_hash       BYTEA  NOT NULL PRIMARY KEY,
    client_id       TEXT   NOT NULL REFERENCES sso_apps (client_id) ON DELETE CASCADE,
    redirect_uri    TEXT   NOT NULL,
    code_challenge  TEXT   NOT NULL,
    account_id      TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id      TEXT   NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
  );
  CREATE INDEX sso_codes_expiry ON sso_codes (expires_at);
`;

interface AppRow {
  client_id: string;
  redirect_uri: string;
  origin: string;
  created_at: string;
  backchannel_logout_uri: string | null;
}
interface CodeRow {
  code_hash: Buffer;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  account_id: string;
  session_id: string;
  expires_at: string;
  used_at: string | null;
}

const toApp = (row: AppRow): SsoAppRecord => ({ clientId: row.client_id, redirectUri: row.redirect_uri, origin: row.origin, createdAt: Number(row.created_at), backchannelLogoutUri: row.backchannel_logout_uri ?? null });
const toCode = (row: CodeRow): SsoCodeRecord => ({
  codeHash: row.code_hash,
  clientId: row.client_id,
  redirectUri: row.redirect_uri,
  codeChallenge: row.code_challenge,
  accountId: row.account_id,
  sessionId: row.session_id,
  expiresAt: Number(row.expires_at),
  usedAt: row.used_at === null ? null : Number(row.used_at),
});

export class PostgresSsoRecords implements SsoRecords {
  constructor(private readonly pool: pg.Pool) {}

  async addApp(app: SsoAppRecord): Promise<boolean> {
    const result = await this.pool.query(
      'INSERT INTO sso_apps (client_id, redirect_uri, origin, created_at, backchannel_logout_uri) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
      [app.clientId, app.redirectUri, app.origin, app.createdAt, app.backchannelLogoutUri ?? null],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async appById(clientId: string): Promise<SsoAppRecord | null> {
    const row = (await this.pool.query<AppRow>('SELECT * FROM sso_apps WHERE client_id = $1', [clientId])).rows[0];
    return row ? toApp(row) : null;
  }

  async appByOrigin(origin: string): Promise<SsoAppRecord | null> {
    const row = (await this.pool.query<AppRow>('SELECT * FROM sso_apps WHERE origin = $1 ORDER BY created_at LIMIT 1', [origin])).rows[0];
    return row ? toApp(row) : null;
  }

  async listApps(): Promise<SsoAppRecord[]> {
    return (await this.pool.query<AppRow>('SELECT * FROM sso_apps ORDER BY client_id')).rows.map(toApp);
  }

  async removeApp(clientId: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM sso_apps WHERE client_id = $1', [clientId])).rowCount ?? 0) > 0;
  }

  async createCode(code: SsoCodeRecord, now: number): Promise<void> {
    await this.pool.query('DELETE FROM sso_codes WHERE expires_at < $1', [now]);
    await this.pool.query(
      'INSERT INTO sso_codes (code_hash, client_id, redirect_uri, code_challenge, account_id, session_id, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [code.codeHash, code.clientId, code.redirectUri, code.codeChallenge, code.accountId, code.sessionId, code.expiresAt, code.usedAt],
    );
  }

  async consumeCode(codeHash: Buffer, at: number): Promise<CodeConsumption> {
    // One statement: of two concurrent exchanges, only one sees used_at still NULL.
    const fresh = (await this.pool.query<CodeRow>('UPDATE sso_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL RETURNING *', [codeHash, at])).rows[0];
    if (fresh) return { kind: 'fresh', code: { ...toCode(fresh), usedAt: null } };
    const seen = (await this.pool.query<CodeRow>('SELECT * FROM sso_codes WHERE code_hash = $1', [codeHash])).rows[0];
    return seen ? { kind: 'replayed', code: toCode(seen) } : { kind: 'unknown' };
  }

  async addGrant(grant: SsoGrantRecord, pruneBefore: number): Promise<void> {
    await this.pool.query('DELETE FROM sso_grants WHERE created_at < $1', [pruneBefore]);
    await this.pool.query(
      'INSERT INTO sso_grants (account_id, client_id, session_id, origin_session_id, sid, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
      [grant.accountId, grant.clientId, grant.sessionId, grant.originSessionId, grant.sid, grant.createdAt],
    );
  }

  async takeGrants(accountId: string, originSessionId: string, clientId?: string): Promise<SsoGrantRecord[]> {
    const rows = (
      clientId === undefined
        ? await this.pool.query<SsoGrantRow>('DELETE FROM sso_grants WHERE account_id = $1 AND origin_session_id = $2 RETURNING *', [accountId, originSessionId])
        : await this.pool.query<SsoGrantRow>('DELETE FROM sso_grants WHERE account_id = $1 AND origin_session_id = $2 AND client_id = $3 RETURNING *', [accountId, originSessionId, clientId])
    ).rows;
    return rows.map(toSsoGrant);
  }
}
