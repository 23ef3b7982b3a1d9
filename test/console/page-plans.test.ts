/**
 * The console's paged queries are index seeks on both engines: EXPLAIN of exactly the statements
 * the stores run (src/accounts/page-queries.ts, the push statements) shows the keyset index with
 * the row-value bound inside the index condition, and no sort and no full scan, for the first page
 * (the below-everything key) and for a late one alike.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { APPS_PAGE_SQL, NODES_PAGE_SQL, SESSIONS_PAGE_SQL } from '../../src/accounts/page-queries.js';
import { PostgresIdentityStore } from '../../src/accounts/postgres-store.js';
import { SqliteIdentityStore } from '../../src/accounts/sqlite-store.js';
import { AFTER_ALL_BLOCKED } from '../../src/store/keyset.js';
import { openStore } from '../../src/store/open/open-store.js';
import { sql as postgresSql } from '../../src/store/postgres/statements.js';
import { sql as sqliteSql } from '../../src/store/sqlite/statements.js';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';

const ACCOUNT = 'a'.repeat(32);
const LATE_ID = '7'.repeat(32);

describe('console page plans on SQLite', () => {
  let dir: string;
  let identity: Database.Database;
  let push: Database.Database;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'herald-plans-'));
    const migrated = new SqliteIdentityStore(path.join(dir, 'accounts.sqlite'));
    await migrated.migrate();
    await migrated.close();
    await (await openStore(`sqlite:${path.join(dir, 'herald.db')}`)).close();
    identity = new Database(path.join(dir, 'accounts.sqlite'), { readonly: true });
    push = new Database(path.join(dir, 'herald.db'), { readonly: true });
  });
  after(() => {
    identity?.close();
    push?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const plan = (db: Database.Database, text: string, params: unknown[]) =>
    db
      .prepare(`EXPLAIN QUERY PLAN ${text}`)
      .all(...params)
      .map((row) => (row as { detail: string }).detail)
      .join(' | ');

  it('apps and sessions seek (account_id, created_at, id) from the cursor; nodes seek the primary key', () => {
    for (const at of [-1, 5_000]) {
      const apps = plan(identity, APPS_PAGE_SQL.sqlite, [ACCOUNT, at, LATE_ID, 26]);
      assert.match(apps, /SEARCH console_apps USING INDEX console_apps_account_page \(account_id=\? AND \(created_at,id\)>\(\?,\?\)\)/);
      const sessions = plan(identity, SESSIONS_PAGE_SQL.sqlite, [ACCOUNT, at, LATE_ID, 0, 0, 26]);
      assert.match(sessions, /SEARCH sessions USING INDEX sessions_account_page \(account_id=\? AND \(created_at,id\)>\(\?,\?\)\)/);
      for (const text of [apps, sessions]) assert.doesNotMatch(text, /TEMP B-TREE|SCAN/);
    }
    const nodes = plan(identity, NODES_PAGE_SQL.sqlite, [3, 26]);
    assert.match(nodes, /SEARCH nodes USING INTEGER PRIMARY KEY \(rowid>\?\)/);
  });

  it('the blocklist seeks blocked_sender_keys_page backwards from the cursor', () => {
    for (const key of [AFTER_ALL_BLOCKED, { at: 5_000, keyHash: Buffer.alloc(32, 7) }]) {
      const text = plan(push, sqliteSql.listBlockedSenderKeysPage, [key.at, key.keyHash, 26]);
      assert.match(text, /SEARCH blocked_sender_keys USING INDEX blocked_sender_keys_page \(\(blocked_at,key_hash\)<\(\?,\?\)\)/);
      assert.doesNotMatch(text, /TEMP B-TREE|SCAN/);
    }
  });
});

requireServices([await postgresUnavailable()], (skip) => {
  describe('console page plans on PostgreSQL', { skip }, () => {
    if (skip) return;
    const identitySchema = `herald_plans_id_${randomBytes(6).toString('hex')}`;
    const pushSchema = `herald_plans_push_${randomBytes(6).toString('hex')}`;
    let client: pg.Client;
    const withSchema = (schema: string) => {
      const url = new URL(postgresUrl);
      url.searchParams.set('schema', schema);
      return url.toString();
    };

    before(async () => {
      const identity = new PostgresIdentityStore(withSchema(identitySchema));
      await identity.migrate();
      await identity.close();
      await (await openStore(withSchema(pushSchema))).close();
      client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      // A realistic spread for the planner: 200 accounts with 100 apps and 100 sessions each, 2,000
      // nodes, a blocklist of 50,000 keys.
      await client.query(`
        SET search_path = ${identitySchema};
        INSERT INTO accounts SELECT lpad(to_hex(i), 32, '0'), i || '@example.com', 'x', 1, 1, 1, 1 FROM generate_series(1, 200) i;
        INSERT INTO console_apps SELECT md5('app' || i), lpad(to_hex(i % 200 + 1), 32, '0'), 'app', 'BPub', i, NULL FROM generate_series(1, 20000) i;
        INSERT INTO sessions SELECT md5('s' || i), lpad(to_hex(i % 200 + 1), 32, '0'), sha256(('t' || i)::bytea), i, i + 10, 'console' FROM generate_series(1, 20000) i;
        INSERT INTO nodes (service, url, capacity) SELECT 'push', 'https://n' || i, 10 FROM generate_series(1, 2000) i;
        ANALYZE;
        SET search_path = ${pushSchema};
        INSERT INTO blocked_sender_keys SELECT sha256(('k' || i)::bytea), 'operator', 'feed', i FROM generate_series(1, 50000) i;
        ANALYZE;
      `);
    });
    after(async () => {
      await client?.query(`DROP SCHEMA IF EXISTS ${identitySchema} CASCADE; DROP SCHEMA IF EXISTS ${pushSchema} CASCADE`);
      await client?.end();
    });
    const plan = async (schema: string, text: string, values: unknown[]) => {
      await client.query(`SET search_path = ${schema}`);
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    };
    const account = '0'.repeat(31) + '7';

    it('apps and sessions seek (account_id, created_at, id) from the cursor; nodes seek the primary key', async () => {
      // The first page and one a quarter in (the last few rows of an account may fairly be read by
      // bitmap and sorted: there are fewer of them than a page's worth of index steps).
      for (const at of [-1, 5_000]) {
        const apps = await plan(identitySchema, APPS_PAGE_SQL.postgres, [account, at, LATE_ID, 26]);
        assert.match(apps, /Index Scan using console_apps_account_page on console_apps[^\n]*\n\s*Index Cond: \(\(account_id = '0+7'::text\) AND \(ROW\(created_at, id\) > ROW\([^)]+\)\)\)/);
        const sessions = await plan(identitySchema, SESSIONS_PAGE_SQL.postgres, [account, at, LATE_ID, 0, 0, 26]);
        assert.match(sessions, /Index Scan using sessions_account_page on sessions[^\n]*\n\s*Index Cond: \(\(account_id = '0+7'::text\) AND \(ROW\(created_at, id\) > ROW\([^)]+\)\)/);
        for (const text of [apps, sessions]) assert.doesNotMatch(text, /Sort|Seq Scan|Bitmap/);
      }
      const nodes = await plan(identitySchema, NODES_PAGE_SQL.postgres, [1_500, 26]);
      assert.match(nodes, /Index Scan using nodes_pkey on nodes[^\n]*\n\s*Index Cond: \(id > /);
      assert.doesNotMatch(nodes, /Sort|Seq Scan/);
    });

    it('the blocklist seeks blocked_sender_keys_page backwards from the cursor', async () => {
      for (const key of [AFTER_ALL_BLOCKED, { at: 20_000, keyHash: Buffer.alloc(32, 7) }]) {
        const text = await plan(pushSchema, postgresSql.listBlockedSenderKeysPage, [key.at, key.keyHash, 26]);
        assert.match(text, /Index Scan Backward using blocked_sender_keys_page on blocked_sender_keys[^\n]*\n\s*Index Cond: \(ROW\(blocked_at, key_hash\) < ROW\([^)]+\)\)/);
        assert.doesNotMatch(text, /Sort|Seq Scan|Bitmap/);
      }
    });
  });
});
