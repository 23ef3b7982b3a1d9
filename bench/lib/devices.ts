/**
 * Many raw `ws` devices in one process, as cheap as the protocol allows: hello, register one
 * channel (v1, no VAPID key), ack every notification at once. No state beyond what a benchmark
 * reads back (uaid, endpoint path, a notification count).
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

export interface NotificationFrame {
  messageType: 'notification';
  channelID: string;
  version: string;
  data?: string;
}

/** Called for every notification, after its ack was written to the socket. */
export type NotificationHandler = (device: BenchDevice, frame: NotificationFrame, receivedAt: number) => void;

export interface ConnectOptions {
  /** ws://… URL from the server's startup line. */
  url: string;
  /** A known uaid: the device reconnects (and Herald drains what it stored meanwhile). */
  uaid?: string;
  /** Register one channel after hello (new devices); a reconnecting device skips it. */
  register: boolean;
  /** The channel's VAPID public key (base64url): its endpoint is v2, bound to that key. */
  key?: string;
  /** Source address to bind (127.0.0.2, …): one source address reaches ~28k ports of one port. */
  localAddress?: string;
  onNotification: NotificationHandler;
}

const CONNECT_TIMEOUT_MS = 30_000;

export class BenchDevice {
  uaid = '';
  channelId = '';
  /** Path of the push endpoint (`/wpush/v1/…`), ready for http.request. */
  endpointPath = '';
  received = 0;

  private constructor(private readonly socket: WebSocket) {}

  static connect(options: ConnectOptions): Promise<BenchDevice> {
    const socket = new WebSocket(options.url, ['push-notification'], {
      perMessageDeflate: false,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const device = new BenchDevice(socket);
    return new Promise<BenchDevice>((resolve, reject) => {
      let ready = false;
      // A benchmark that hangs says nothing: a device not ready in time fails the run.
      const deadline = setTimeout(() => {
        fail(new Error(`device not ready within ${CONNECT_TIMEOUT_MS} ms (socket state ${socket.readyState})`));
        socket.terminate();
      }, CONNECT_TIMEOUT_MS);
      const fail = (error: Error) => {
        clearTimeout(deadline);
        if (!ready) reject(error);
      };
      const succeed = () => {
        clearTimeout(deadline);
        ready = true;
        resolve(device);
      };
      socket.on('error', fail);
      socket.once('close', (code) => fail(new Error(`socket closed ${code} before the device was ready`)));
      socket.once('open', () => {
        socket.send(JSON.stringify({ messageType: 'hello', use_webpush: true, ...(options.uaid ? { uaid: options.uaid } : {}) }));
      });
      socket.on('message', (data) => {
        const text = data.toString();
        // Notifications are most of the traffic: read their two ids without parsing the payload.
        const notification = readNotification(text);
        if (notification) {
          socket.send(`{"messageType":"ack","updates":[{"channelID":"${notification.channelID}","version":"${notification.version}","code":100}]}`);
          device.received++;
          options.onNotification(device, notification, performance.now());
          return;
        }
        const frame = JSON.parse(text) as { messageType?: string; [key: string]: unknown };
        if (frame.messageType === 'notification') {
          const parsed = frame as unknown as NotificationFrame;
          socket.send(`{"messageType":"ack","updates":[{"channelID":"${parsed.channelID}","version":"${parsed.version}","code":100}]}`);
          device.received++;
          options.onNotification(device, parsed, performance.now());
        } else if (frame.messageType === 'hello') {
          device.uaid = frame.uaid as string;
          if (options.register) {
            device.channelId = randomUUID();
            socket.send(JSON.stringify({ messageType: 'register', channelID: device.channelId, ...(options.key ? { key: options.key } : {}) }));
          } else {
            succeed();
          }
        } else if (frame.messageType === 'register') {
          if (frame.status !== 200) return fail(new Error(`register answered ${String(frame.status)}`));
          device.endpointPath = new URL(frame.pushEndpoint as string).pathname;
          succeed();
        }
      });
    });
  }

  /** Closes and resolves once the close handshake is done (or the socket is torn down). */
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close(1000);
      setTimeout(() => this.socket.terminate(), 3000).unref();
    });
  }
}

const NOTIFICATION_PREFIX = '{"messageType":"notification","channelID":"';
const VERSION_KEY = '","version":"';

/**
 * The ids of a notification as Herald writes it (messageType, channelID, version first); null for
 * any other frame or layout, which then goes through JSON.parse.
 */
function readNotification(text: string): NotificationFrame | null {
  if (!text.startsWith(NOTIFICATION_PREFIX)) return null;
  const channelStart = NOTIFICATION_PREFIX.length;
  const channelEnd = channelStart + 36;
  if (!text.startsWith(VERSION_KEY, channelEnd)) return null;
  const versionStart = channelEnd + VERSION_KEY.length;
  const versionEnd = text.indexOf('"', versionStart);
  if (versionEnd === -1) return null;
  return { messageType: 'notification', channelID: text.slice(channelStart, channelEnd), version: text.slice(versionStart, versionEnd) };
}

/** Opens `count` devices, `concurrency` handshakes at a time, spread over the source addresses. */
export async function connectFleet(
  count: number,
  options: Omit<ConnectOptions, 'uaid' | 'localAddress'> & { uaids?: string[]; localAddresses?: string[]; concurrency?: number },
): Promise<BenchDevice[]> {
  const devices: BenchDevice[] = new Array(count);
  const addresses = options.localAddresses ?? [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const localAddress = addresses.length > 0 ? addresses[index % addresses.length] : undefined;
      const uaid = options.uaids?.[index];
      devices[index] = await BenchDevice.connect({
        url: options.url,
        register: options.register,
        ...(options.key ? { key: options.key } : {}),
        onNotification: options.onNotification,
        ...(uaid ? { uaid } : {}),
        ...(localAddress ? { localAddress } : {}),
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, options.concurrency ?? 100) }, worker));
  return devices;
}

export async function closeFleet(devices: BenchDevice[]): Promise<void> {
  await Promise.all(devices.map((device) => device.close()));
}
