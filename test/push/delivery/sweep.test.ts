/**
 * Housekeeping: expired messages and devices unused for the idle window (60 days by default) are
 * swept; a swept device's endpoints answer 410 errno 103.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../helpers/clock.js';
import { CHANNEL_A, RawDevice, startHerald } from '../../helpers/herald.js';

const DAY = 86_400_000;

describe('sweep', () => {
  it('a device unused past the idle window is dropped with its messages; its endpoint answers 410/103', async () => {
    const clock = new ManualClock({ ticking: true });
    const running = await startHerald({ push: { deviceIdleDays: 60 } }, undefined, { now: clock.now });
    const { herald, wsUrl: connectionUrl } = running;
    try {
      const idle = await RawDevice.connect(connectionUrl);
      const idleUaid = await idle.hello();
      const endpoint = await idle.register(CHANNEL_A);
      idle.close();
      await idle.closed;
      assert.equal((await fetch(endpoint, { method: 'POST', headers: { TTL: String(90 * 86400) } })).status, 201);

      clock.advance(59 * DAY);
      const active = await RawDevice.connect(connectionUrl);
      const activeUaid = await active.hello();
      await active.register(CHANNEL_A);
      active.close();

      // The message's 90-day TTL was capped at 30 days: it is long expired, the device not yet idle.
      assert.deepEqual(await herald.sweep(), { expiredMessages: 1, idleDevices: 0 });
      clock.advance(2 * DAY);
      assert.deepEqual(await herald.sweep(), { expiredMessages: 0, idleDevices: 1 });
      assert.equal(await (await running.store()).getDevice(idleUaid), null);
      assert.ok(await (await running.store()).getDevice(activeUaid));

      const response = await fetch(endpoint, { method: 'POST', headers: { TTL: '60' } });
      assert.equal(response.status, 410);
      assert.equal(((await response.json()) as { errno: number }).errno, 103);
    } finally {
      await running.stop();
    }
  });
});
