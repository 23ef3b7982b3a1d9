/**
 * Restart safety (protocol.md §4): a message answered 201 while the device was away is delivered
 * after Herald restarts — after a clean stop, and after the process is killed outright.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { CHANNEL_A, RawDevice, startHerald } from './helpers/herald.js';

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
      const first = await spawnHerald(dataDir);
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
      first.process.kill('SIGKILL');
      await new Promise((resolve) => first.process.once('exit', resolve));

      const second = await spawnHerald(dataDir);
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
        second.process.kill('SIGTERM');
        await new Promise((resolve) => second.process.once('exit', resolve));
      }
      assert.equal(statSync(path.join(dataDir, 'secrets.json')).mode & 0o777, 0o600);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

async function spawnHerald(dataDir: string): Promise<{ process: ChildProcess; wsUrl: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const wsUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('herald did not start in time')), 15_000);
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { devices?: string };
      if (entry.devices) {
        clearTimeout(timer);
        resolve(entry.devices);
      }
    });
    child.once('exit', (code) => reject(new Error(`herald exited with ${String(code)}`)));
  });
  return { process: child, wsUrl };
}
