/**
 * Issue 16 items 1, 3, 4, 5: the Redis of a two-node cluster is killed for 5 s under cross-node
 * traffic and restarted empty on the same port (a Redis that crashed: no presence keys). Twenty
 * devices stay connected throughout. Every message answered 201 reaches its device within 5 s of
 * Redis' return, without a reconnect; meanwhile the heartbeat says the bus is down (200, DEGRADED),
 * the fallbacks are counted, and each node logs the outage once and its end.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { post } from '../helpers/sender.js';
import { AckingDevice, heartbeat, InProcessCluster, metricValue, RedisServer } from '../helpers/faults.js';
import { postgresUnavailable, requireServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

const DEVICES_PER_NODE = 10;
const OUTAGE_MS = 5000;
const DELIVERY_BOUND_MS = 5000;

requireServices([await postgresUnavailable()], (skip) => {
  describe('Redis killed under a two-node cluster', { skip, timeout: 120_000 }, () => {
    let redis: RedisServer;
    let cluster: InProcessCluster;
    const devices: AckingDevice[][] = [];

    before(async () => {
      redis = await RedisServer.start();
      cluster = await InProcessCluster.start(2, {
        bus: { url: redis.url, keyPrefix: `herald-faults-${randomBytes(3).toString('hex')}` },
        guard: { exemptLoopback: false },
      });
      for (const node of cluster.nodes) {
        devices.push(await Promise.all(Array.from({ length: DEVICES_PER_NODE }, () => AckingDevice.connect(node.running.wsUrl))));
      }
    });
    after(async () => {
      for (const device of devices.flat()) device.close();
      await cluster?.stop();
      await redis?.kill();
    });

    it('every message answered 201 reaches its still-connected device within 5 s of Redis coming back', async (t) => {
      const [a, b] = cluster.nodes;
      assert.ok(a && b);
      /** version → when it was answered 201, and which device it is for. */
      const accepted = new Map<string, { at: number; device: AckingDevice }>();
      let refused = 0;
      let sending = true;
      // Cross-node only: each message goes to the node that does not hold its device.
      const loop = (async () => {
        for (let i = 0; sending; i++) {
          const onA = i % 2 === 0;
          const device = devices[onA ? 0 : 1]?.[Math.floor(i / 2) % DEVICES_PER_NODE] as AckingDevice;
          const origin = (onA ? b : a).running.origin;
          const response = await post(device.endpointOn(origin), { TTL: '600' });
          if (response.status === 201) accepted.set(cluster.versionOf(response), { at: Date.now(), device });
          else refused++;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();

      await waitFor(() => accepted.size >= 40, 10_000, '40 messages accepted before the outage');
      await waitFor(() => [...accepted].every(([version, { device }]) => device.received.has(version)), 5000, 'live delivery before the outage');
      assert.deepEqual(await heartbeat(a.running.origin).then((beat) => beat.body), { status: 'OK', storage: 'OK', bus: 'OK', limits: 'OK' });

      await redis.kill();
      const killedAt = Date.now();
      const duringOutage = accepted.size;
      await waitFor(async () => (await heartbeat(a.running.origin)).body.bus === 'DOWN', 3000, 'the heartbeat to see the bus down');
      const down = await heartbeat(a.running.origin);
      assert.equal(down.code, 200, 'Redis down alone keeps the node in the load balancer');
      assert.deepEqual(down.body, { status: 'DEGRADED', storage: 'OK', bus: 'DOWN', limits: 'DOWN' });
      assert.equal(await metricValue(a.running, 'herald_dependency_up', { dependency: 'bus' }), 0, 'the alert metric');
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - killedAt)));

      await redis.restart();
      const backAt = Date.now();
      const acceptedInOutage = [...accepted.values()].filter(({ at }) => at > killedAt && at < backAt).length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      sending = false;
      await loop;

      const missing = () => [...accepted].filter(([version, { device }]) => !device.received.has(version));
      await waitFor(() => missing().length === 0, DELIVERY_BOUND_MS + 2000, 'every accepted message to arrive').catch(() => {});
      const late = [...accepted].map(([version, { at, device }]) => {
        const arrived = device.received.get(version) ?? Number.POSITIVE_INFINITY;
        // Within 5 s of Redis' return, or of its own acceptance when it came later.
        return arrived - Math.max(at, backAt);
      });
      const worst = Math.max(...late);
      const fallbacks = (await metricValue(a.running, 'herald_bus_fallbacks_total')) + (await metricValue(b.running, 'herald_bus_fallbacks_total'));
      t.diagnostic(
        `accepted ${accepted.size} (${acceptedInOutage} during the ${OUTAGE_MS} ms outage, ${accepted.size - duringOutage} from its start on), ` +
          `refused ${refused}, fallbacks to storage ${fallbacks}, latest arrival ${worst} ms after Redis' return (bound ${DELIVERY_BOUND_MS} ms)`,
      );
      assert.deepEqual(missing().map(([version]) => version), [], 'every message answered 201 arrived');
      assert.ok(worst <= DELIVERY_BOUND_MS, `the last one arrived ${worst} ms after Redis came back`);
      assert.equal(refused, 0, 'Redis down refuses no sender');
      assert.ok(acceptedInOutage > 50, `traffic went on during the outage (${acceptedInOutage})`);
      assert.ok(fallbacks > 0, 'hand-offs left to storage are counted');
      for (const device of devices.flat()) {
        assert.equal(device.closedWith, null, 'no device had to reconnect');
        assert.equal(device.duplicates, 0, 'nothing arrived twice');
      }

      await waitFor(async () => (await heartbeat(a.running.origin)).body.status === 'OK', 3000, 'the heartbeat to be OK again');
      assert.equal(await metricValue(a.running, 'herald_dependency_up', { dependency: 'bus' }), 1);
      assert.equal(await metricValue(a.running, 'herald_dependency_outages_total', { dependency: 'bus' }), 1);
      for (const node of cluster.nodes) {
        const text = node.log.text();
        const failed = text.match(/"msg":"bus \(Redis\) failed: [^"]+"/g) ?? [];
        assert.equal(failed.length, 1, `node ${node.name} logs the bus outage once: ${failed.join(' | ')}`);
        // The refused reconnects that follow the closed connection: their cause once, the rest counted.
        assert.match(text, /"msg":"bus \(Redis\) still failing: connect ECONNREFUSED 127\.0\.0\.1:\d+"/);
        assert.ok(text.split('\n').length < 40, `node ${node.name} logged ${text.split('\n').length} lines for a 5 s outage`);
        assert.match(text, /"msg":"bus \(Redis\) is back after [0-9.]+ s [^"]*presence of 10 devices re-announced/);
        assert.match(text, /"msg":"guard \(Redis\) is back after/);
        assert.doesNotMatch(text, /"type":"Object"|"stack":""/);
        if (process.env.HERALD_TEST_DUMP_LOGS) console.log(text);
      }
    });
  });
});
