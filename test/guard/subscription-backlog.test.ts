/**
 * One app must not be able to wipe a device's other subscriptions (docs/security.md, hardening
 * row 9): a drain past push.msgLimit resets the device, so each subscription's stored backlog is
 * capped (guard.maxStoredMessagesPerSubscription, never above msgLimit) and one sender flooding an
 * offline device only fills its own share.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald } from '../helpers/herald.js';
import { expectStatus, post } from '../helpers/sender.js';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';

async function statuses(responses: Promise<Response>[]): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  for (const response of await Promise.all(responses)) {
    counts[response.status] = (counts[response.status] ?? 0) + 1;
    await response.body?.cancel();
  }
  return counts;
}

describe("guard: one subscription's backlog", () => {
  it("a flood to one subscription of an offline device fills only that subscription's share; the device is not reset", async () => {
    const running = await startHerald({ push: { msgLimit: 10 }, guard: { maxStoredMessagesPerSubscription: 6 } });
    try {
      const device = await RawDevice.connect(running.wsUrl);
      const uaid = await device.hello();
      const flooded = await device.register(CHANNEL_A);
      const other = await device.register(CHANNEL_B);
      device.close();
      await device.closed;

      const flood: Promise<Response>[] = [];
      for (let i = 0; i < 11; i += 1) flood.push(post(flooded, { TTL: '600' }));
      assert.deepEqual(await statuses(flood), { 201: 6, 429: 5 });
      await expectStatus(await post(other, { TTL: '600' }), 201);

      const back = await RawDevice.connect(running.wsUrl);
      assert.equal(await back.hello(uaid), uaid, 'the device keeps its uaid: it was not reset');
      for (let i = 0; i < 7; i += 1) back.ack(await back.next('notification'));
      await expectStatus(await post(other, { TTL: '600' }), 201);
      back.close();
    } finally {
      await running.stop();
    }
  });

  it('the cap is never above push.msgLimit, whatever is configured', async () => {
    const running = await startHerald({ push: { msgLimit: 4 }, guard: { maxStoredMessagesPerSubscription: 100 } });
    try {
      const device = await RawDevice.connect(running.wsUrl);
      const uaid = await device.hello();
      const endpoint = await device.register(CHANNEL_A);
      device.close();
      await device.closed;
      const flood: Promise<Response>[] = [];
      for (let i = 0; i < 6; i += 1) flood.push(post(endpoint, { TTL: '600' }));
      assert.deepEqual(await statuses(flood), { 201: 4, 429: 2 });
      const back = await RawDevice.connect(running.wsUrl);
      assert.equal(await back.hello(uaid), uaid);
      back.close();
    } finally {
      await running.stop();
    }
  });
});

requireServices([await postgresUnavailable()], (skip) => {
  describe("guard: one subscription's backlog on PostgreSQL", { skip }, () => {
    it('a parallel burst of 40 POSTs to one subscription stores no more than its cap', async () => {
      const schema = `herald_test_backlog_${randomBytes(4).toString('hex')}`;
      const url = new URL(postgresUrl);
      url.searchParams.set('schema', schema);
      const running = await startHerald({ store: { url: url.toString() }, push: { msgLimit: 10 }, guard: { maxStoredMessagesPerSubscription: 5 } });
      try {
        const device = await RawDevice.connect(running.wsUrl);
        const uaid = await device.hello();
        const endpoint = await device.register(CHANNEL_A);
        device.close();
        await device.closed;
        const burst: Promise<Response>[] = [];
        for (let i = 0; i < 40; i += 1) burst.push(post(endpoint, { TTL: '600' }));
        assert.deepEqual(await statuses(burst), { 201: 5, 429: 35 });
        assert.equal(await (await running.store()).countMessages(uaid, Date.now()), 5);
      } finally {
        await running.stop();
        const client = new pg.Client({ connectionString: postgresUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    });
  });
});
