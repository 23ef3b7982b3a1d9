/** Shared by the client scenarios: temp folders and a device's events. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { PushDevice, type PushDeviceEvents, type PushDeviceOptions } from '../../src/client/device.js';

export function tempDir(prefix = 'herald-client-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Resolves with the next emission of `event` (its first argument), or fails after timeoutMs. */
export function nextEvent<K extends keyof PushDeviceEvents>(device: PushDevice, event: K, timeoutMs = 5000): Promise<PushDeviceEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      device.off(event, listener as never);
      reject(new Error(`no ${String(event)} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (value: PushDeviceEvents[K][0]) => {
      clearTimeout(timer);
      resolve(value);
    };
    device.once(event, listener as never);
  });
}

/** Collects every emission of `event` into an array. */
export function collect<K extends keyof PushDeviceEvents>(device: PushDevice, event: K): Array<PushDeviceEvents[K][0]> {
  const seen: Array<PushDeviceEvents[K][0]> = [];
  device.on(event, ((value: PushDeviceEvents[K][0]) => seen.push(value)) as never);
  return seen;
}

/**
 * A PushDevice closed when the test ends, passed or failed: one left reconnecting after a failed
 * assertion would keep the test file from ever ending.
 */
export function deviceFor(t: TestContext, options: PushDeviceOptions): PushDevice {
  const device = new PushDevice(options);
  t.after(() => device.close());
  return device;
}
