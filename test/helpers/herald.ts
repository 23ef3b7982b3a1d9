/** A real Herald on loopback port 0 with a temporary data folder, and a raw `ws` device. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { Herald, type HeraldOptions } from '../../src/app.js';
import { resolvePaths, validateConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open/open-store.js';
import type { Store } from '../../src/store/types.js';
import type { HeraldConfigInput } from '../../src/config/schema.js';

export interface Running {
  herald: Herald;
  wsUrl: string;
  origin: string;
  dataDir: string;
  /**
   * A connection of the test's own to the database this Herald uses, as an operator would open it:
   * what is stored is checked there, not through Herald's internals. Opened on first use.
   */
  store(): Promise<Store>;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

type Overrides = { [K in keyof HeraldConfigInput]?: HeraldConfigInput[K] };

export interface StartOptions {
  /** Herald's clock (e.g. a ManualClock's `now`): tests move it instead of waiting. */
  now?: () => number;
  /** Replaces the silent logger (e.g. captureLog().logger for tests that search the log). */
  logger?: Logger;
  only?: HeraldOptions['only'];
}

export async function startHerald(
  overrides: Overrides = {},
  dataDir = mkdtempSync(path.join(tmpdir(), 'herald-test-')),
  options: StartOptions = {},
): Promise<Running> {
  const config = validateConfig({
    dataDir,
    ...overrides,
    server: { port: 0, ...overrides.server },
    log: { level: 'silent', ...overrides.log },
    push: { ...overrides.push },
  });
  const herald = new Herald({ config, ...options });
  const listeners = await herald.start();
  let inspection: Promise<Store> | undefined;
  return {
    herald,
    wsUrl: listeners.connectionUrl,
    origin: listeners.endpointOrigin,
    dataDir,
    store: () => (inspection ??= openStore(resolvePaths(config).storeUrl)),
    async stop(options = {}) {
      const opened = inspection;
      inspection = undefined;
      if (opened) await (await opened).close();
      await herald.stop();
      if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Frame {
  messageType?: string;
  [key: string]: unknown;
}

/** A device speaking the protocol by hand, to see exactly what Herald sends. */
export class RawDevice {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  /** `options` carries TLS settings (e.g. `ca`) for wss:// URLs. */
  static async connect(url: string, protocols: string[] = ['push-notification'], options: WebSocket.ClientOptions = {}): Promise<RawDevice> {
    const socket = new WebSocket(url, protocols, options);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new RawDevice(socket);
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits for the next frame of this type that has not been taken yet. */
  async next(type: string, timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((frame) => (type === 'ping' ? Object.keys(frame).length === 0 : frame.messageType === type));
      if (index >= 0) return this.frames.splice(index, 1)[0] as Frame;
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) throw new Error(`no ${type} frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async hello(uaid?: string): Promise<string> {
    this.send({ messageType: 'hello', use_webpush: true, ...(uaid ? { uaid } : {}) });
    const answer = await this.next('hello');
    return answer.uaid as string;
  }

  async register(channelID: string, key?: string): Promise<string> {
    this.send({ messageType: 'register', channelID, ...(key ? { key } : {}) });
    const answer = await this.next('register');
    if (answer.status !== 200) throw new Error(`register answered ${String(answer.status)}`);
    return answer.pushEndpoint as string;
  }

  ack(frame: Frame): void {
    this.send({ messageType: 'ack', updates: [{ channelID: frame.channelID, version: frame.version, code: 100 }] });
  }

  close(): void {
    this.socket.close(1000);
  }
}

/** A connected device with one channel; returns the device and its endpoint. */
export async function subscribedDevice(wsUrl: string, channelId: string, key?: string): Promise<{ device: RawDevice; endpoint: string; uaid: string }> {
  const device = await RawDevice.connect(wsUrl);
  const uaid = await device.hello();
  const endpoint = await device.register(channelId, key);
  return { device, endpoint, uaid };
}

export const CHANNEL_A = '5f2f3a1e-0b8c-4d4e-9a5a-1c2b3d4e5f60';
export const CHANNEL_B = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
