import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/open/open-store.js';
import { latestVersion, migrations } from '../../src/store/sqlite/migrations.js';
import { SqliteStore, sql } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { message, registerDevice, runStoreConformance } from './conformance.js';

const T0 = 1_700_000_000_000;
const root = mkdtempSync(path.join(tmpdir(), 'herald-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshFile(): string {
  counter++;
  return path.join(root, `case-${counter}`, 'herald.db');
}

runStoreConformance('sqlite in memory', () => openStore('sqlite::memory:'));

const files = new WeakMap<Store, string>();
runStoreConformance(
  'sqlite file',
  async () => {
    const file = freshFile();
    const store = await openStore(`sqlite:${file}`);
    files.set(store, file);
    return store;
  },
  async (store) => {
    await store.close();
    const file = files.get(store);
    if (file) rmSync(path.dirname(file), { recursive: true, force: true });
  },
);

describe('sqlite store', () => {
  test('a file database runs in WAL mode', async () => {
    const file = freshFile();
    const store = await openStore(`sqlite:${file}`);
    try {
      // journal_mode=WAL is persistent in the file, so a second connection sees it.
      const raw = new Database(file, { readonly: true });
      try {
        assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        raw.close();
      }
    } finally {
      await store.close();
    }
  });

  test('devices, channels and messages survive closing and reopening the file', async () => {
    const file = freshFile();
    const first = await openStore(`sqlite:${file}`);
    const { uaid, channelId } = await registerDevice(first);
    const saved = message(uaid, channelId, { topic: 'kept' });
    await first.saveMessage(saved);
    await first.close();

    const second = await openStore(`sqlite:${file}`);
    try {
      assert.ok(await second.getDevice(uaid));
      assert.ok(await second.getChannel(uaid, channelId));
      const stored = await second.getMessage(uaid, saved.id, T0);
      assert.ok(stored);
      assert.ok(stored.data?.equals(saved.data ?? Buffer.alloc(0)));
      // The sequence continues where it was: no seq is handed out twice.
      const next = message(uaid, channelId);
      await second.saveMessage(next);
      const page = await second.fetchMessages(uaid, { limit: 10, now: T0 });
      assert.deepEqual(page.map((m) => m.id), [saved.id, next.id]);
      assert.ok((page[1]?.seq ?? 0) > stored.seq);
    } finally {
      await second.close();
    }
  });

  test('a database written by a newer Herald is refused with a clear error', async () => {
    const file = freshFile();
    await (await openStore(`sqlite:${file}`)).close();
    const raw = new Database(file);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, ?)').run('from the future', T0);
    raw.close();

    await assert.rejects(openStore(`sqlite:${file}`), (error: Error) => {
      assert.match(error.message, /version 999/);
      assert.match(error.message, /newer than this Herald knows \(\d+\)/);
      return true;
    });
  });

  test('migrate records every migration once, however often it runs', async () => {
    const file = freshFile();
    const store = await openStore(`sqlite:${file}`);
    await store.migrate();
    await store.close();
    await (await openStore(`sqlite:${file}`)).close();
    const raw = new Database(file, { readonly: true });
    try {
      const rows = raw.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
      assert.deepEqual(rows, migrations.map((m) => ({ version: m.version, name: m.name })));
    } finally {
      raw.close();
    }
  });

  test('the migration list is numbered 1, 2, 3… with no gaps', () => {
    assert.deepEqual(
      migrations.map((m) => m.version),
      migrations.map((_, i) => i + 1),
    );
    assert.equal(latestVersion, migrations.length);
  });

  test('a store used before migrate() says so', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    try {
      await assert.rejects(store.getDevice('00'), /run migrate\(\) before use/);
    } finally {
      await store.close();
    }
  });

  test('concurrent saves keep seq strictly increasing in arrival order', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const { uaid, channelId } = await registerDevice(store);
      const batch = Array.from({ length: 500 }, () => message(uaid, channelId));
      await Promise.all(batch.map((m) => store.saveMessage(m)));
      const page = await store.fetchMessages(uaid, { limit: 1000, now: T0 });
      assert.deepEqual(page.map((m) => m.id), batch.map((m) => m.id));
      for (let i = 1; i < page.length; i++) assert.ok((page[i]?.seq ?? 0) > (page[i - 1]?.seq ?? 0));
    } finally {
      await store.close();
    }
  });

  test('a failed save changes nothing, not even the topic it would have replaced', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const { uaid, channelId } = await registerDevice(store);
      const pending = message(uaid, channelId, { topic: 'score' });
      const other = message(uaid, channelId);
      await store.saveMessage(pending);
      await store.saveMessage(other);
      // Reusing another message's id: the insert fails after the topic delete already ran.
      await assert.rejects(store.saveMessage(message(uaid, channelId, { topic: 'score', id: other.id })), /UNIQUE/);
      assert.ok(await store.getMessage(uaid, pending.id, T0));
      assert.equal(await store.countMessages(uaid, T0), 2);
    } finally {
      await store.close();
    }
  });

  test('re-registering a channel keeps its pending messages', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const { uaid, channelId } = await registerDevice(store);
      const pending = message(uaid, channelId);
      await store.saveMessage(pending);
      await store.putChannel({ uaid, channelId, senderKeyHash: Buffer.alloc(32, 7), createdAt: T0 + 1 });
      assert.ok(await store.getMessage(uaid, pending.id, T0));
    } finally {
      await store.close();
    }
  });

  test('the hot queries walk an index and never sort', () => {
    const raw = new Database(':memory:');
    try {
      for (const m of migrations) raw.exec(m.sql);
      const plan = (text: string, params: unknown): string =>
        raw
          .prepare(`EXPLAIN QUERY PLAN ${text}`)
          .all(params as never)
          .map((row) => (row as { detail: string }).detail)
          .join(' | ');
      const fetch = plan(sql.fetchMessageGroup, { uaid: 'u', topicless: 0, seq: 0, now: 0, limit: 10 });
      // A seek on all three columns: a late cursor costs no more than an early one.
      assert.match(fetch, /USING INDEX messages_drain \(uaid=\? AND <expr>=\? AND seq>\?\)/);
      assert.doesNotMatch(fetch, /TEMP B-TREE/);
      assert.match(plan(sql.deleteMessage, ['u', 'i']), /messages_uaid_id/);
      assert.match(plan(sql.getMessage, ['u', 'i', 0]), /messages_uaid_id/);
      assert.match(plan(sql.deleteTopic, ['u', 'c', 't']), /messages_channel_topic/);
      // Migration 10 left messages without a topic out of that index: a channel's messages (the
      // backlog cap's count, and the channel foreign key's cascade on unregister) seek the uaid.
      assert.match(plan(sql.countChannelMessages, ['u', 'c', 0]), /SEARCH messages USING INDEX/);
      assert.match(plan('DELETE FROM messages WHERE uaid = ? AND channel_id = ?', ['u', 'c']), /SEARCH messages USING INDEX/);
      assert.match(plan(sql.sweepExpiredMessages, [0]), /messages_expires_at/);
      // The sweep's per-app counts: the same index, then one primary-key seek per row into channels.
      const expired = plan(sql.expiredBySenderKey, [0]);
      assert.match(expired, /SEARCH m USING INDEX messages_expires_at/);
      assert.match(expired, /SEARCH c USING (INDEX sqlite_autoindex_channels_1|PRIMARY KEY)/);
      assert.match(plan(sql.sweepIdleDevices, [0]), /devices_last_seen_at/);
      assert.match(plan(sql.countMessages, ['u', 0]), /INDEX/);
    } finally {
      raw.close();
    }
  });
});

describe('openStore', () => {
  test('sqlite::memory: opens a migrated private database', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.ping();
      assert.equal(await store.countChannels('00'), 0);
    } finally {
      await store.close();
    }
  });

  test('a relative sqlite path is resolved from the working directory, parent folders created', async () => {
    const cwd = process.cwd();
    const base = path.dirname(freshFile());
    const { mkdirSync } = await import('node:fs');
    mkdirSync(base, { recursive: true });
    process.chdir(base);
    try {
      const store = await openStore('sqlite:nested/deeper/herald.db');
      await store.close();
    } finally {
      process.chdir(cwd);
    }
    assert.ok(existsSync(path.join(base, 'nested', 'deeper', 'herald.db')));
  });

  test('another scheme is refused by name, without echoing the url', async () => {
    await assert.rejects(openStore('mysql://herald:s3cret@db.example/herald'), (error: Error) => {
      assert.match(error.message, /unsupported store scheme "mysql:"/);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
    await assert.rejects(openStore('/var/lib/herald.db'), /no scheme/);
    await assert.rejects(openStore('sqlite:'), /needs a path/);
  });
});
