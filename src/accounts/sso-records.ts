/**
 * What single sign-on keeps in the identity database (docs/sso.md): the relying apps the operator
 * registered, and the one-time codes of the cross-site flow (stored as their SHA-256, single use).
 * Migration 3 of both backends. The apps' sealing keys are not here but in the data folder
 * (sso-keys.ts), so a database dump does not open any payload.
 */

export interface SsoAppRecord {
  /** `[a-z0-9][a-z0-9._-]{0,63}`, chosen by the operator. */
  clientId: string;
  /** The one redirect URI a code is sent to, compared exactly. */
  redirectUri: string;
  /** The relying app's origin: the AAD of its payloads, and who may frame and message the frame page. */
  origin: string;
  createdAt: number;
  /** Where sign-out is told (OpenID Back-Channel Logout); null: the app is not told. Migration 4. */
  backchannelLogoutUri?: string | null;
}

/**
 * An accounts session minted for a relying app, and the browser session it came from: signing
 * that browser session out ends the minted one and tells the app (identity migration 5).
 */
export interface SsoGrantRecord {
  accountId: string;
  clientId: string;
  /** The session minted for the app (its token went sealed to the app's back end). */
  sessionId: string;
  /** The accounts session (the browser's cookie) the sign-in came from. */
  originSessionId: string;
  /** The `sid` of its logout token: derived from the minted token (ssoSessionId), so the app can compute it too. */
  sid: string;
  createdAt: number;
}

/** An sso_grants row as either backend reads it (PostgreSQL answers BIGINT as a string). */
export interface SsoGrantRow {
  account_id: string;
  client_id: string;
  session_id: string;
  origin_session_id: string;
  sid: string;
  created_at: number | string;
}

export const toSsoGrant = (row: SsoGrantRow): SsoGrantRecord => ({
  accountId: row.account_id,
  clientId: row.client_id,
  sessionId: row.session_id,
  originSessionId: row.origin_session_id,
  sid: row.sid,
  createdAt: Number(row.created_at),
});

export interface SsoCodeRecord {
  /** SHA-256 of the code; the code itself is only in the redirect. */
  codeHash: Buffer;
  clientId: string;
  redirectUri: string;
  /** base64url SHA-256 of the PKCE verifier (S256 only). */
  codeChallenge: string;
  accountId: string;
  /** The accounts session the code was issued from: signing it out makes the code worthless. */
  sessionId: string;
  expiresAt: number;
  /** null until exchanged; a second exchange finds it set (a replay). */
  usedAt: number | null;
}

export type CodeConsumption = { kind: 'fresh'; code: SsoCodeRecord } | { kind: 'replayed'; code: SsoCodeRecord } | { kind: 'unknown' };

export interface SsoRecords {
  /** false when the client id is taken. */
  addApp(app: SsoAppRecord): Promise<boolean>;
  appById(clientId: string): Promise<SsoAppRecord | null>;
  appByOrigin(origin: string): Promise<SsoAppRecord | null>;
  listApps(): Promise<SsoAppRecord[]>;
  /** false when there was no such app; its codes go with it. */
  removeApp(clientId: string): Promise<boolean>;

  /** Stores a code and drops the codes that expired before `now`. */
  createCode(code: SsoCodeRecord, now: number): Promise<void>;
  /** Marks the code used, atomically: of two concurrent exchanges exactly one is `fresh`. */
  consumeCode(codeHash: Buffer, at: number): Promise<CodeConsumption>;

  /** Records a grant and drops those made before `pruneBefore` (their sessions have ended by age). */
  addGrant(grant: SsoGrantRecord, pruneBefore: number): Promise<void>;
  /** Removes and answers the grants made from this browser session (its sign-out), or only those for one app. */
  takeGrants(accountId: string, originSessionId: string, clientId?: string): Promise<SsoGrantRecord[]>;
}

export const SSO_MIGRATION_NAME = 'single sign-on apps and codes';
export const SSO_BACKCHANNEL_MIGRATION_NAME = 'single sign-on back-channel sign-out';
export const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
