/**
 * Issue 16 items 3 and 5: Herald's PostgreSQL (a throwaway cluster this test starts on its own
 * port) is stopped under traffic and started again. Senders are answered 503 errno 201 meanwhile
 * and the heartbeat says storage ERROR (503: a load balancer takes the node out); the log says
 * what failed once, with the driver's real message, counts the rest, and says when storage is
 * back; then the same device socket gets messages again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AckingDevice, heartbeat, PostgresCluster } from '../helpers/faults.js';
import { startHerald, type Running } from '../helpers/herald.js';
import { captureLog, type CapturedLog } from '../helpers/log.js';
import { post } from '../helpers/sender.js';
import { waitFor } from '../helpers/wait.js';

const unavailable = PostgresCluster.unavailable();

describe('PostgreSQL stopped and started under one Herald node', { skip: unavailable ?? false, timeout: 120_000 }, () => {
  let cluster: PostgresCluster;
  let running: Running;
  let log: CapturedLog;
  before(async () => {
    cluster = await PostgresCluster.create();
    log = captureLog();
    running = await startHerald({ store: { url: cluster.url } }, undefined, { logger: log.logger });
  });
  after(async () => {
    await running?.stop();
    cluster?.destroy();
  });

  it('senders get 503 and the heartbeat ERROR while it is down; the log says so once, then that it is back', async (t) => {
    const device = await AckingDevice.connect(running.wsUrl);
    try {
      const first = await post(device.endpoint, { TTL: '600' });
      assert.equal(first.status, 201);
      await waitFor(() => device.received.size === 1, 3000, 'the first message');
      // Its ack done first: an ack that meets the outage closes the socket 1011 (docs/operations.md).
      await waitFor(async () => (await running.herald.storage.countMessages(device.uaid, Date.now())) === 0, 3000, 'the ack');

      cluster.stop();
      const stoppedAt = Date.now();
      const answers: Array<{ status: number; errno: unknown }> = [];
      // Fewer than the subscription's limit (1,200 a minute), so every answer is about storage.
      while (Date.now() - stoppedAt < 2000 && answers.length < 400) {
        const response = await post(device.endpoint, { TTL: '600' });
        answers.push({ status: response.status, errno: ((await response.json().catch(() => ({}))) as { errno?: unknown }).errno });
      }
      assert.ok(answers.length > 20);
      const seen = new Map<string, number>();
      for (const answer of answers) seen.set(`${answer.status} errno ${String(answer.errno)}`, (seen.get(`${answer.status} errno ${String(answer.errno)}`) ?? 0) + 1);
      assert.deepEqual([...seen.keys()], ['503 errno 201'], JSON.stringify(Object.fromEntries(seen)));
      const down = await heartbeat(running.origin);
      assert.equal(down.code, 503, 'storage down takes the node out of the load balancer');
      assert.deepEqual(down.body, { status: 'ERROR', storage: 'ERROR', bus: 'LOCAL', limits: 'LOCAL' });

      await cluster.start();
      const startedAt = Date.now();
      await waitFor(() => /"msg":"storage is back after/.test(log.text()), 5000, 'the log to say storage is back');
      t.diagnostic(`${answers.length} POSTs answered 503 while stopped; back logged ${Date.now() - startedAt} ms after the restart`);
      assert.deepEqual((await heartbeat(running.origin)).body, { status: 'OK', storage: 'OK', bus: 'LOCAL', limits: 'LOCAL' });
      const again = await post(device.endpoint, { TTL: '600' });
      assert.equal(again.status, 201);
      await waitFor(() => device.received.size === 2, 3000, 'a message on the same socket after the outage');
      assert.equal(device.closedWith, null, 'the device socket stayed open');

      const text = log.text();
      if (process.env.HERALD_TEST_DUMP_LOGS) console.log(text);
      const failed = text.match(/"msg":"storage failed: [^"]*"/g) ?? [];
      assert.equal(failed.length, 1, `one line for the outage: ${failed.join(' | ')}`);
      // The driver's own words, not "[object Object]" or an empty message.
      assert.match(failed[0] ?? '', /storage failed: (connect ECONNREFUSED 127\.0\.0\.1:\d+|terminating connection due to administrator command|Connection terminated unexpectedly)/);
      assert.match(text, /"msg":"storage still down \(\d+ more within 10 s\)"/);
      assert.match(text, /"msg":"storage is back after [0-9.]+ s \(\d+ failures meanwhile\)"/);
      assert.doesNotMatch(text, /"type":"Object"|"stack":""/);
      const errors = text.split('\n').filter((line) => line.includes('"level":50'));
      assert.ok(errors.length <= 5, `${errors.length} error lines for ${answers.length} failed requests`);
    } finally {
      device.close();
    }
  });
});
