/**
 * The console's paged store queries on SQLite (always) and on a real PostgreSQL (skipped with the
 * reason when unreachable, failing under CI): each scenario in fresh stores, PostgreSQL's in fresh
 * schemas dropped after it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe } from 'node:test';
import pg from 'pg';
import { PostgresIdentityStore } from '../../src/accounts/postgres-store.js';
import { SqliteIdentityStore } from '../../src/accounts/sqlite-store.js';
import { openStore } from '../../src/store/open/open-store.js';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';
import { apps, blocklist, liveSessions, nodes, pagedListCases, type Stores } from './store-pages.cases.js';

type Open = () => Promise<{ stores: Stores; close(): Promise<void> }>;

function everyList(open: Open): void {
  describe('apps of an account', () => pagedListCases(apps, open));
  describe('live sessions of an account', () => pagedListCases(liveSessions, open));
  describe('nodes', () => pagedListCases(nodes, open));
  describe('blocked sender keys, newest first', () => pagedListCases(blocklist, open));
}

const sqliteStores: Open = async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-pages-'));
  const identity = new SqliteIdentityStore(path.join(dir, 'accounts.sqlite'));
  await identity.migrate();
  const push = await openStore(`sqlite:${path.join(dir, 'herald.db')}`);
  return {
    stores: { identity, push },
    close: async () => {
      await Promise.all([identity.close(), push.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

const postgresStores: Open = async () => {
  const url = (schema: string) => {
    const parsed = new URL(postgresUrl);
    parsed.searchParams.set('schema', schema);
    return parsed.toString();
  };
  const pushSchema = `herald_pages_push_${randomBytes(6).toString('hex')}`;
  const identity = new PostgresIdentityStore(url(`herald_pages_id_${randomBytes(6).toString('hex')}`));
  await identity.migrate();
  const push = await openStore(url(pushSchema));
  return {
    stores: { identity, push },
    close: async () => {
      await identity.dropSchema();
      await Promise.all([identity.close(), push.close()]);
      const admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${pushSchema} CASCADE`).finally(() => admin.end());
    },
  };
};

describe('console store pages on SQLite', () => {
  everyList(sqliteStores);
});

requireServices([await postgresUnavailable()], (skip) => {
  describe('console store pages on PostgreSQL', { skip }, () => {
    if (skip) return;
    everyList(postgresStores);
  });
});
