/**
 * What the web console keeps beside the accounts (src/console/): the apps (VAPID key pairs) an
 * account owns and the roles an account holds. In the identity database, next to the accounts
 * they belong to, with the same two backends (migration 2 of each).
 */

import type { KeysetQuery, TimeKey } from '../store/keyset.js';

/** An app: a VAPID public key a developer owns. The private key is never stored. */
export interface AppRecord {
  /** 32 lowercase hex, random. */
  id: string;
  accountId: string;
  name: string;
  /** base64url of the 65-byte uncompressed P-256 public key. */
  publicKey: string;
  createdAt: number;
  /** When the key went on the sender blocklist through the console; null while it may send. */
  revokedAt: number | null;
}

export const ROLES = ['operator'] as const;
export type Role = (typeof ROLES)[number];

export interface ConsoleRecords {
  createApp(app: AppRecord): Promise<void>;
  /** One page of the account's apps, oldest first: keyed by (createdAt, id). */
  listAppsPage(accountId: string, query: KeysetQuery<TimeKey>): Promise<AppRecord[]>;
  /** null when the account has no such app. */
  appById(accountId: string, id: string): Promise<AppRecord | null>;
  /** false when the account has no such app. */
  markAppRevoked(accountId: string, id: string, at: number): Promise<boolean>;
  /** false when the account has no such app. */
  deleteApp(accountId: string, id: string): Promise<boolean>;

  /** true when the role was newly granted (false: already held). */
  grantRole(accountId: string, role: Role): Promise<boolean>;
  /** true when the account held the role. */
  revokeRole(accountId: string, role: Role): Promise<boolean>;
  rolesOf(accountId: string): Promise<Role[]>;
}

/** Migration 2, the same logical schema on both backends. */
export const CONSOLE_MIGRATION_NAME = 'console apps and account roles';
