/**
 * `herald admin devices stats` and `herald admin messages stats` against a running Herald's admin
 * listener: counts that follow what devices and senders do, as text and as JSON, and never an id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runDevices, runMessages } from '../../src/cli/admin-stats.js';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald, subscribedDevice, type Running } from '../helpers/herald.js';
import { expectStatus, post } from '../helpers/sender.js';

type Run = typeof runDevices;

async function cli(run: Run, argv: string[]): Promise<{ code: number; text: string }> {
  let text = '';
  const code = await run(argv, (chunk) => (text += chunk));
  return { code, text };
}

describe('herald admin devices|messages stats', () => {
  let running: Running;
  let adminUrl: string;
  let online: RawDevice;

  before(async () => {
    running = await startHerald({ server: { adminPort: 0 } });
    adminUrl = `http://127.0.0.1:${running.herald.listeners.adminPort}`;
  });
  after(async () => {
    online.close();
    await running.stop();
  });

  it('an empty Herald counts nothing', async () => {
    const devices = await cli(runDevices, ['stats', '--admin-url', adminUrl, '--json']);
    assert.equal(devices.code, 0);
    assert.deepEqual(JSON.parse(devices.text), { devices: 0, channels: 0, devicesWithBacklog: 0, largestBacklog: 0, connectedHere: 0 });
    const messages = await cli(runMessages, ['stats', '--admin-url', adminUrl, '--json']);
    assert.deepEqual(JSON.parse(messages.text), { pending: 0, pendingBytes: 0, expiredAwaitingSweep: 0, oldestPendingAgeSeconds: null });
  });

  it('counts follow devices, subscriptions and stored messages, and the text names each without an id', async () => {
    const away = await subscribedDevice(running.wsUrl, CHANNEL_A);
    const second = await away.device.register(CHANNEL_B);
    away.device.close();
    await away.device.closed;
    ({ device: online } = await subscribedDevice(running.wsUrl, CHANNEL_A));
    for (const endpoint of [away.endpoint, away.endpoint, second]) await expectStatus(await post(endpoint, { TTL: '600' }), 201);

    const devices = JSON.parse((await cli(runDevices, ['stats', '--admin-url', adminUrl, '--json'])).text) as Record<string, number>;
    assert.deepEqual(devices, { devices: 2, channels: 3, devicesWithBacklog: 1, largestBacklog: 3, connectedHere: 1 });
    const messages = JSON.parse((await cli(runMessages, ['stats', '--admin-url', adminUrl, '--json'])).text) as Record<string, number>;
    assert.equal(messages.pending, 3);
    assert.equal(messages.expiredAwaitingSweep, 0);
    assert.ok((messages.oldestPendingAgeSeconds ?? -1) >= 0);

    const text = await cli(runDevices, ['stats', '--admin-url', adminUrl]);
    assert.equal(text.code, 0);
    assert.match(text.text, /^devices\t2\nchannels \(subscriptions\)\t3\n/);
    assert.doesNotMatch(text.text + JSON.stringify(messages), /[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}/, 'no uaid or channel id');
  });

  it('a node without an admin listener gets a clear usage error', async () => {
    await assert.rejects(cli(runMessages, ['stats', '--config', '/dev/null']), /server\.adminPort/);
  });
});
