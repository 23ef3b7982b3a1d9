/**
 * The guard's shared limits when their Redis fails (a redis-server this test starts, then kills):
 * they loosen to per-node counters at once instead of refusing every sender or waiting for Redis,
 * and are shared again when it is back. The heartbeat names the state.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CHANNEL_A, startHerald, subscribedDevice, type RawDevice, type Running } from '../helpers/herald.js';
import { heartbeat, RedisServer } from '../helpers/faults.js';
import { post } from '../helpers/sender.js';
import { waitFor } from '../helpers/wait.js';

describe('guard limits while Redis is down', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let running: Running;
  let device: RawDevice;
  let endpoint: string;
  before(async () => {
    redis = await RedisServer.start();
    running = await startHerald({
      bus: { url: redis.url, keyPrefix: `herald-limits-${randomBytes(3).toString('hex')}` },
      guard: { exemptLoopback: false, perSubscription: { points: 3, seconds: 60 } },
    });
    ({ device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_A));
  });
  after(async () => {
    device?.close();
    await running?.stop();
    await redis?.kill();
  });

  it('count per node meanwhile: the subscription limit still holds, without waiting for Redis', async () => {
    await waitFor(async () => (await heartbeat(running.origin)).body.limits === 'OK', 3000, 'the shared limits');
    await redis.kill();
    await waitFor(async () => (await heartbeat(running.origin)).body.limits === 'DOWN', 3000, 'the heartbeat to see the limits down');
    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 4; i++) statuses.push((await post(endpoint)).status);
    assert.deepEqual(statuses, [201, 201, 201, 429], 'three per window on this node, then refused');
    assert.ok(Date.now() - started < 500, 'no POST waited for Redis');
    const beat = await heartbeat(running.origin);
    assert.equal(beat.code, 200);
    assert.equal(beat.body.status, 'DEGRADED');

    await redis.restart();
    await waitFor(async () => (await heartbeat(running.origin)).body.limits === 'OK', 3000, 'the limits shared again');
    // A restarted Redis starts its windows empty: shared counting begins again from there.
    assert.equal((await post(endpoint)).status, 201);
  });
});
