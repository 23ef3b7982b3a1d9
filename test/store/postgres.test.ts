/**
 * The PostgreSQL store against the real server: the shared conformance suite, each scenario in a
 * fresh schema dropped after it, plus what only PostgreSQL has (concurrent migration, pooling).
 *
 * HERALD_TEST_POSTGRES_URL names the server (default postgres://postgres@127.0.0.1:5432/postgres).
 * When it is unreachable the tests are skipped, except under CI, where they fail: a backend that
 * was never tested must not look green.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { cursorAfter } from '../../src/store/cursor.js';
import { openStore } from '../../src/store/open/open-store.js';
import { latestVersion, migrations } from '../../src/store/postgres/migrations.js';
import { PostgresStore, sql } from '../../src/store/postgres/postgres-store.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';
import { SubscriptionMissingError, type Store } from '../../src/store/types.js';
import { postgresUnavailable, postgresUrl } from '../helpers/services.js';
import { message, newUaid, registerDevice, runStoreConformance } from './conformance.js';

const T0 = 1_700_000_000_000;
const serverUrl = postgresUrl;

const unreachable = await postgresUnavailable();

if (unreachable !== null && process.env.CI) {
  test('PostgreSQL is reachable for the postgres store tests', () => {
    assert.fail(`CI must run the PostgreSQL backend tests: ${unreachable}`);
  });
} else if (unreachable !== null) {
  // A skipped test (not a skipped suite), so the run's summary counts it under "skipped".
  test('postgres backend', { skip: unreachable }, () => {});
} else {
  describe('postgres backend', () => {
    // One administrative connection creates nothing but drops the schemas the stores made.
    let admin: pg.Pool;
    const schemas = new Set<string>();
    before(() => {
      admin = new pg.Pool({ connectionString: serverUrl, max: 2 });
      admin.on('error', () => {});
    });
    after(async () => {
      for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });

    function freshSchema(): string {
      const schema = `herald_test_${randomBytes(6).toString('hex')}`;
      schemas.add(schema);
      return schema;
    }

    async function dropSchema(schema: string): Promise<void> {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      schemas.delete(schema);
    }

    function urlFor(schema: string, params = ''): string {
      const url = new URL(serverUrl);
      url.searchParams.set('schema', schema);
      return url.toString() + params;
    }

    const storeSchemas = new WeakMap<Store, string>();
    runStoreConformance(
      'postgres',
      async () => {
        const schema = freshSchema();
        const store = await openStore(urlFor(schema, '&pool_size=4'));
        storeSchemas.set(store, schema);
        return store;
      },
      async (store) => {
        await store.close();
        const schema = storeSchemas.get(store);
        if (schema) await dropSchema(schema);
      },
    );

    /** A migrated store on a fresh schema, closed and dropped after `body`. */
    async function withStore(body: (store: Store, schema: string) => Promise<void>): Promise<void> {
      const schema = freshSchema();
      const store = await openStore(urlFor(schema));
      try {
        await body(store, schema);
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    }

    describe('postgres store', () => {
      test('three processes starting at once on a fresh schema migrate it once', async () => {
        const schema = freshSchema();
        try {
          const stores = Array.from({ length: 3 }, () => new PostgresStore({ ...parsePostgresUrl(urlFor(schema)), poolSize: 2 }));
          try {
            await Promise.all(stores.map((store) => store.migrate()));
            const { rows } = await admin.query(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);
            assert.deepEqual(rows, migrations.map((m) => ({ version: m.version, name: m.name })));
            // Every one of them can use the schema at once.
            const [first] = stores;
            assert.ok(first);
            const { uaid, channelId } = await registerDevice(first);
            await Promise.all(stores.map((store) => store.saveMessage(message(uaid, channelId))));
            for (const store of stores) assert.equal(await store.countMessages(uaid, T0), 3);
          } finally {
            await Promise.all(stores.map((store) => store.close()));
          }
        } finally {
          await dropSchema(schema);
        }
      });

      test('a schema written by a newer Herald is refused with a clear error', async () => {
        const schema = freshSchema();
        try {
          await (await openStore(urlFor(schema))).close();
          await admin.query(`INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (999, 'from the future', $1)`, [T0]);
          await assert.rejects(openStore(urlFor(schema)), (error: Error) => {
            assert.match(error.message, /version 999/);
            assert.match(error.message, /newer than this Herald knows \(\d+\)/);
            return true;
          });
        } finally {
          await dropSchema(schema);
        }
      });

      test('devices, channels and messages survive a new store on the same schema', async () => {
        const schema = freshSchema();
        try {
          const first = await openStore(urlFor(schema));
          const { uaid, channelId } = await registerDevice(first);
          const saved = message(uaid, channelId, { topic: 'kept' });
          await first.saveMessage(saved);
          await first.close();

          const second = await openStore(urlFor(schema));
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
        } finally {
          await dropSchema(schema);
        }
      });

      test('migrate records every migration once, however often it runs', async () => {
        await withStore(async (store, schema) => {
          await store.migrate();
          await (await openStore(urlFor(schema))).close();
          const { rows } = await admin.query(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);
          assert.deepEqual(rows, migrations.map((m) => ({ version: m.version, name: m.name })));
        });
      });

      test('the migration list is numbered 1, 2, 3… like the SQLite one', async () => {
        const sqlite = await import('../../src/store/sqlite/migrations.js');
        assert.deepEqual(
          migrations.map((m) => m.version),
          migrations.map((_, i) => i + 1),
        );
        assert.equal(latestVersion, migrations.length);
        assert.deepEqual(
          migrations.map((m) => [m.version, m.name]),
          sqlite.migrations.map((m) => [m.version, m.name]),
        );
      });

      test('the tables live in the schema the url names, and nowhere else', async () => {
        await withStore(async (_store, schema) => {
          const { rows } = await admin.query<{ table_schema: string; table_name: string }>(
            `SELECT table_schema, table_name FROM information_schema.tables
             WHERE table_name IN ('devices', 'channels', 'messages', 'schema_migrations') AND table_schema = $1
             ORDER BY table_name`,
            [schema],
          );
          assert.deepEqual(
            rows.map((r) => r.table_name),
            ['channels', 'devices', 'messages', 'schema_migrations'],
          );
        });
      });

      test('a store used before migrate() says so', async () => {
        const schema = freshSchema();
        // One connection, so the statement that failed before migrate() is the one retried after.
        const store = new PostgresStore(parsePostgresUrl(urlFor(schema, '&pool_size=1')));
        try {
          await assert.rejects(store.getDevice('00'), /run migrate\(\) before use/);
          await store.migrate();
          assert.equal(await store.getDevice('00'), null);
        } finally {
          await store.close();
          await dropSchema(schema);
        }
      });

      test('close is idempotent and ping fails after it', async () => {
        const schema = freshSchema();
        const store = await openStore(urlFor(schema));
        await store.close();
        await store.close();
        await assert.rejects(store.ping());
        await dropSchema(schema);
      });

      test('a failed save changes nothing, not even the topic it would have replaced', async () => {
        await withStore(async (store) => {
          const { uaid, channelId } = await registerDevice(store);
          const pending = message(uaid, channelId, { topic: 'score' });
          const other = message(uaid, channelId);
          await store.saveMessage(pending);
          await store.saveMessage(other);
          // Reusing another message's id: the replacement of the topic message must not happen either.
          await assert.rejects(store.saveMessage(message(uaid, channelId, { topic: 'score', id: other.id })), /messages_uaid_id/);
          const kept = await store.getMessage(uaid, pending.id, T0);
          assert.ok(kept);
          assert.ok(kept.data?.equals(pending.data ?? Buffer.alloc(0)));
          assert.equal(await store.countMessages(uaid, T0), 2);
        });
      });

      test('a message for a channel that does not exist is refused', async () => {
        await withStore(async (store) => {
          const { uaid } = await registerDevice(store);
          await assert.rejects(store.saveMessage(message(uaid, '00000000-0000-4000-8000-000000000000')), SubscriptionMissingError);
          // Unregistered meanwhile, with and without a topic; and a device that is gone.
          const unregistered = await registerDevice(store);
          await store.deleteChannel(unregistered.uaid, unregistered.channelId);
          await assert.rejects(store.saveMessage(message(unregistered.uaid, unregistered.channelId, { topic: 't' })), SubscriptionMissingError);
          await assert.rejects(store.saveMessage(message(newUaid(), unregistered.channelId)), SubscriptionMissingError);
          assert.equal(await store.countMessages(uaid, T0), 0);
        });
      });

      test('re-registering a channel keeps its pending messages', async () => {
        await withStore(async (store) => {
          const { uaid, channelId } = await registerDevice(store);
          const pending = message(uaid, channelId);
          await store.saveMessage(pending);
          await store.putChannel({ uaid, channelId, senderKeyHash: Buffer.alloc(32, 7), createdAt: T0 + 1 });
          assert.ok(await store.getMessage(uaid, pending.id, T0));
        });
      });

      test('a non-integer ttl or time is refused, not rounded', async () => {
        await withStore(async (store) => {
          const { uaid, channelId } = await registerDevice(store);
          await assert.rejects(store.saveMessage(message(uaid, channelId, { ttl: 1.5 })));
          assert.equal(await store.countMessages(uaid, T0), 0);
        });
      });

      test('concurrent saves of one topic leave exactly one message pending', async () => {
        await withStore(async (store) => {
          const { uaid, channelId } = await registerDevice(store);
          const racing = Array.from({ length: 40 }, (_, i) => message(uaid, channelId, { topic: 'score', receivedAt: T0 + i }));
          await Promise.all(racing.map((m) => store.saveMessage(m)));
          const page = await store.fetchMessages(uaid, { limit: 100, now: T0 });
          assert.equal(page.length, 1);
          assert.ok(racing.some((m) => m.id === page[0]?.id));
        });
      });

      test('concurrent saves on the pool each get their own increasing seq', async () => {
        await withStore(async (store) => {
          const { uaid, channelId } = await registerDevice(store);
          const batch = Array.from({ length: 300 }, () => message(uaid, channelId));
          await Promise.all(batch.map((m) => store.saveMessage(m)));
          const page = await store.fetchMessages(uaid, { limit: 1000, now: T0 });
          // Several connections race, so the order among saves in flight together is the server's;
          // what holds is one row each, in strictly increasing seq.
          assert.deepEqual(new Set(page.map((m) => m.id)), new Set(batch.map((m) => m.id)));
          for (let i = 1; i < page.length; i++) assert.ok((page[i]?.seq ?? 0) > (page[i - 1]?.seq ?? 0));
        });
      });

      test('a save that commits late never lands behind a drain cursor', async () => {
        // Two nodes save for one device: the first draws its seq, then is slow to commit (here a
        // trigger sleeps for messages whose id starts with ffff); the second saves after it. A drain
        // that read the second and moved its cursor past it must not have skipped the first.
        await withStore(async (store, schema) => {
          await admin.query(`
            CREATE FUNCTION ${schema}.slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.id LIKE 'ffff%' THEN PERFORM pg_sleep(0.4); END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER slow_insert BEFORE INSERT ON ${schema}.messages
              FOR EACH ROW EXECUTE FUNCTION ${schema}.slow_insert();
          `);
          const { uaid, channelId } = await registerDevice(store);
          const slow = message(uaid, channelId, { id: `ffff${randomBytes(14).toString('hex')}` });
          const fast = message(uaid, channelId);
          const slowSaved = store.saveMessage(slow);
          await new Promise((resolve) => setTimeout(resolve, 100));
          await store.saveMessage(fast);

          // The device drains as soon as the second save is answered, then again after the first.
          const page = await store.fetchMessages(uaid, { limit: 10, now: T0 });
          await slowSaved;
          const rest = await store.fetchMessages(uaid, { after: cursorAfter(undefined, page), limit: 10, now: T0 });
          assert.deepEqual(
            new Set([...page, ...rest].map((m) => m.id)),
            new Set([slow.id, fast.id]),
          );
        });
      });

      test('the hot queries walk an index', async () => {
        await withStore(async (_store, schema) => {
          const client = await admin.connect();
          try {
            await client.query(`SET search_path = ${schema}`);
            // Plans are judged on a realistic spread: 2,000 devices with 20 messages each, one of them
            // with an older backlog of 2,000 (the drain of a small backlog may fairly read it whole and sort it).
            await client.query(`
              INSERT INTO devices SELECT 'd' || i, 0, i FROM generate_series(1, 2000) i;
              INSERT INTO channels SELECT 'd' || i, 'c', NULL, 0 FROM generate_series(1, 2000) i;
              INSERT INTO messages (uaid, id, channel_id, topic, urgency, ttl, received_at, expires_at)
                SELECT 'd7', 'deep' || i, 'c', CASE WHEN i % 5 = 0 THEN 'd' || i END, 'normal', 60, i, i
                FROM generate_series(1, 2000) i;
              INSERT INTO messages (uaid, id, channel_id, topic, urgency, ttl, received_at, expires_at)
                SELECT 'd' || (i % 2000 + 1), 'm' || i, 'c', CASE WHEN i % 5 = 0 THEN 't' || i END, 'normal', 60, i, i
                FROM generate_series(1, 40000) i;
              ANALYZE;
            `);
            const plan = async (text: string, values: unknown[]): Promise<string> => {
              const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
              return rows.map((row) => row['QUERY PLAN']).join('\n');
            };
            // Each group is an ordered seek on its partial index from its own cursor position, so a
            // late cursor costs no more than an early one.
            for (const [topicSeq, seq] of [
              [0, 0],
              [1_500, 1_600],
            ]) {
              const fetch = await plan(sql.fetchMessages, ['d7', topicSeq, seq, 0, 10]);
              assert.doesNotMatch(fetch, /Seq Scan|Bitmap/);
              assert.match(fetch, /Index Scan using messages_drain_topic on messages[^\n]*\n\s*Index Cond: \(\(uaid = 'd7'::text\) AND \(seq > /);
              assert.match(fetch, /Index Scan using messages_drain_plain on messages[^\n]*\n\s*Index Cond: \(\(uaid = 'd7'::text\) AND \(seq > /);
            }
            assert.match(await plan(sql.getMessage, ['d7', 'm7', 0]), /messages_uaid_id/);
            assert.match(await plan(sql.deleteMessage, ['d7', 'm7']), /messages_uaid_id/);
            assert.match(await plan(sql.sweepExpiredMessages, [10]), /messages_expires_at/);
            assert.match(await plan(sql.sweepIdleDevices, [10]), /devices_last_seen_at/);
            assert.match(await plan(sql.countMessages, ['d7', 0]), /Index/);
            // Migration 10 left messages without a topic out of messages_channel_topic: a channel's
            // messages (the backlog cap's count, the foreign key's cascade) seek the primary key's uaid.
            assert.doesNotMatch(await plan(sql.countChannelMessages, ['d7', 'c7', 0]), /Seq Scan/);
            assert.doesNotMatch(await plan('DELETE FROM messages WHERE uaid = $1 AND channel_id = $2', ['d7', 'c7']), /Seq Scan/);
          } finally {
            client.release();
          }
        });
      });

      test('the pool size comes from the url, 10 by default', () => {
        assert.equal(parsePostgresUrl('postgres://h/db').poolSize, undefined);
        const parsed = parsePostgresUrl('postgresql://u:p@h:5433/db?schema=s1&pool_size=25&sslmode=disable');
        assert.equal(parsed.poolSize, 25);
        assert.equal(parsed.schema, 's1');
        assert.equal(parsed.connectionString, 'postgresql://u:p@h:5433/db?sslmode=disable');
        assert.throws(() => parsePostgresUrl('postgres://h/db?pool_size=lots'), /pool_size must be a whole number/);
      });
    });

    describe('openStore with a postgres url', () => {
      test('postgres:// and postgresql:// open a migrated store', async () => {
        for (const scheme of ['postgres:', 'postgresql:']) {
          const schema = freshSchema();
          const url = new URL(urlFor(schema));
          url.protocol = scheme;
          const store = await openStore(url.toString());
          try {
            await store.ping();
            assert.equal(await store.countChannels('00'), 0);
          } finally {
            await store.close();
            await dropSchema(schema);
          }
        }
      });

      test('errors do not echo the url or its password', async () => {
        const secret = 's3cret-pw';
        const reject = async (url: string, pattern: RegExp): Promise<void> => {
          await assert.rejects(openStore(url), (error: Error) => {
            assert.match(error.message, pattern);
            assert.doesNotMatch(`${error.message} ${String(error.cause ?? '')}`, new RegExp(secret));
            return true;
          });
        };
        // Nothing listens on port 1.
        await reject(`postgres://herald:${secret}@127.0.0.1:1/herald`, /ECONNREFUSED/);
        await reject(`postgres://herald:${secret}@[bad/herald`, /not a valid url/);
        await reject(`postgres://herald:${secret}@127.0.0.1:1/herald?schema=Bad-Name`, /schema must be/);
        await reject(`postgres://herald:${secret}@127.0.0.1:1/herald?pool_size=0`, /pool size must be/);
      });
    });
  });
}
