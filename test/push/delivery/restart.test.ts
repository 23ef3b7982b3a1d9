/**
 * Restart safety (protocol.md §4): a message answered 201 while the device was away is delivered
 * after Herald restarts — after a clean stop, and after the process is killed outright.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CHANNEL_A, RawDevice, startHerald } from '../../helpers/herald.js';
import { ServingHerald } from '../../helpers/process.js';

describe('restart safety', () => {
  it('a stored message survives a clean restart and is delivered at the next hello', async () => {
    const first = await startHerald();
    const device = await RawDevice.connect(first.wsUrl);
    const uaid = await device.hello();
    const endpoint = await device.register(CHANNEL_A);
    device.close();
    await device.closed;
    const response = await fetch(endpoint, { method: 'POST', headers: { TTL: '600' } });
    assert.equal(response.status, 201);
    await first.stop({ keepData: true });

    const second = await startHerald({}, first.dataDir);
    try {
      const back = await RawDevice.connect(second.wsUrl);
      assert.equal(await back.hello(uaid), uaid);
      const notification = await back.next('notification');
      back.ack(notification);
      back.close();
    } finally {
      await second.stop();
    }
  });

  it('a message answered 201 survives SIGKILL of the serving process', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-kill-'));
    try {
      const first = await ServingHerald.start(['--port', '0', '--data-dir', dataDir]);
      const device = await RawDevice.connect(first.wsUrl);
      const uaid = await device.hello();
      const endpoint = new URL(await device.register(CHANNEL_A));
      device.close();
      await device.closed;
      const accepted: string[] = [];
      for (let i = 0; i < 20; i++) {
        const response = await fetch(endpoint, { method: 'POST', headers: { TTL: '600' } });
        assert.equal(response.status, 201);
        accepted.push(response.headers.get('location') as string);
      }
      await first.stop('SIGKILL');

      const second = await ServingHerald.start(['--port', '0', '--data-dir', dataDir]);
      try {
        const back = await RawDevice.connect(second.wsUrl);
        assert.equal(await back.hello(uaid), uaid);
        const versions = new Set<string>();
        while (versions.size < accepted.length) {
          const notification = await back.next('notification');
          versions.add(notification.version as string);
          back.ack(notification);
        }
        assert.equal(versions.size, 20);
        back.close();
      } finally {
        await second.stop('SIGTERM');
      }
      assert.equal(statSync(path.join(dataDir, 'secrets.json')).mode & 0o777, 0o600);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
