/**
 * Issue 16 item 6: a PostgreSQL backend killed under Herald (pg_terminate_backend, as a backend
 * restart or a pooler does: 57P01 admin_shutdown, or a reset socket) is retried once on a fresh
 * connection, so nobody hears of it: no 503 to a sender, no device socket closed 1011. Only the
 * test's own connections are terminated (found by their application_name) on the shared server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { newMessageId } from '../../src/crypto/tokens.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { NewMessage } from '../../src/store/types.js';
import { AckingDevice, metricValue, terminateBackends, withApplicationName } from '../helpers/faults.js';
import { startHerald, type Running } from '../helpers/herald.js';
import { captureLog } from '../helpers/log.js';
import { post } from '../helpers/sender.js';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';
import { waitFor, within } from '../helpers/wait.js';

const CHANNEL = '5f2f3a1e-0b8c-4d4e-9a5a-1c2b3d4e5f60';
/** The per-device save lock of postgres-store.ts (DEVICE_SAVE_LOCK). */
const DEVICE_SAVE_LOCK = 0x4865_7201;

function message(uaid: string): NewMessage {
  const now = Date.now();
  return { id: newMessageId(), uaid, channelId: CHANNEL, topic: null, urgency: 'normal', ttl: 60, receivedAt: now, expiresAt: now + 60_000, data: null, headers: null };
}

requireServices([await postgresUnavailable()], (skip) => {
  describe('PostgreSQL backends killed under Herald', { skip, timeout: 60_000 }, () => {
    const schemas: string[] = [];
    const application = `herald_kill_${randomBytes(4).toString('hex')}`;
    let admin: pg.Client;
    before(async () => {
      admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
    });
    after(async () => {
      for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });
    const schemaUrl = () => {
      const schema = `herald_kill_${randomBytes(4).toString('hex')}`;
      schemas.push(schema);
      const url = new URL(withApplicationName(postgresUrl, application));
      url.searchParams.set('schema', schema);
      return { schema, url: url.toString() };
    };

    it('a statement whose backend is killed while it runs is retried and succeeds, once', async () => {
      const { schema, url } = schemaUrl();
      const parsed = new URL(url);
      parsed.searchParams.delete('schema');
      const retried: unknown[] = [];
      const store = new PostgresStore({ connectionString: parsed.toString(), schema, poolSize: 2, onRetry: (error) => retried.push(error) });
      await store.migrate();
      try {
        const uaid = randomBytes(16).toString('hex');
        await store.upsertDevice(uaid, Date.now());
        await store.putChannel({ uaid, channelId: CHANNEL, senderKeyHash: null, createdAt: Date.now() });
        // Hold the device's save lock elsewhere, so the save waits in its backend; kill that backend.
        const holder = new pg.Client({ connectionString: postgresUrl });
        await holder.connect();
        let saving: Promise<void>;
        try {
          await holder.query('BEGIN');
          await holder.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [DEVICE_SAVE_LOCK, uaid]);
          saving = store.saveMessage(message(uaid));
          saving.catch(() => {});
          const waiting = async () =>
            (await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [application])).rowCount === 1;
          await waitFor(waiting, 5000, 'the save to wait for the lock');
          assert.ok((await terminateBackends(postgresUrl, application)) >= 1, "the store's connection was killed");
        } finally {
          await holder.query('COMMIT').catch(() => {});
          await holder.end();
        }
        await within(saving, 5000, 'the save to be retried');
        assert.equal(retried.length, 1, 'retried once');
        assert.equal((retried[0] as { code?: string }).code, '57P01', 'admin_shutdown');
        assert.equal(await store.countMessages(uaid, Date.now()), 1, 'stored once');

        // The pool's idle connections died too: every statement after the kill succeeds.
        for (let i = 0; i < 10; i++) {
          await terminateBackends(postgresUrl, application);
          assert.equal((await store.getDevice(uaid))?.uaid, uaid);
        }
      } finally {
        await store.close();
      }
    });

    it('backends killed every 100 ms under sends and acks: every POST 201, no socket closed, nothing lost', async (t) => {
      const { url } = schemaUrl();
      const log = captureLog();
      const running: Running = await startHerald({ store: { url } }, undefined, { logger: log.logger });
      const devices: AckingDevice[] = [];
      try {
        for (let i = 0; i < 5; i++) devices.push(await AckingDevice.connect(running.wsUrl));
        const accepted = new Map<string, AckingDevice>();
        const statuses = new Map<number, number>();
        let killed = 0;
        let sending = true;
        const killer = (async () => {
          while (sending) {
            killed += await terminateBackends(postgresUrl, application);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })();
        const started = Date.now();
        for (let i = 0; Date.now() - started < 3000; i++) {
          const device = devices[i % devices.length] as AckingDevice;
          const response = await post(device.endpoint, { TTL: '600' });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const location = response.headers.get('location');
          if (response.status === 201 && location) accepted.set(location, device);
        }
        sending = false;
        await killer;
        await waitFor(() => devices.reduce((sum, device) => sum + device.received.size, 0) >= accepted.size, 5000, 'every message to arrive');
        const retries = await metricValue(running, 'herald_storage_retries_total');
        t.diagnostic(`${accepted.size} POSTs answered ${JSON.stringify(Object.fromEntries(statuses))}, ${killed} backends killed, ${retries} statements retried`);
        assert.deepEqual([...statuses.keys()], [201], 'every POST was accepted');
        assert.ok(killed > 20, `backends were killed (${killed})`);
        assert.ok(retries > 0, 'some statements were retried on a fresh connection');
        for (const device of devices) assert.equal(device.closedWith, null, 'no device socket closed');
        assert.doesNotMatch(log.text(), /storage failed/);
      } finally {
        for (const device of devices) device.close();
        await running.stop();
      }
    });
  });
});
