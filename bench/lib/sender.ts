/**
 * The application-server side of the load: POSTs to push endpoints over keep-alive sockets with
 * prebuilt requests (raw-http.ts; node:http's client, and fetch even more, cost the generator more
 * CPU per request than the server spends, on the cores they share). Bodies are real aes128gcm
 * messages, encrypted once per device.
 */
import { encryptAes128gcm, generateAuthSecret, generateUaKeys } from '../../src/crypto/ece.js';
import { buildPost, RawHttpPool } from './raw-http.js';

export interface Target {
  endpointPath: string;
}

export class PushSender {
  private readonly pool: RawHttpPool;
  private readonly host: string;
  private readonly port: number;
  /** Prebuilt request bytes by endpoint path, for the body they were built with. */
  private readonly requests = new Map<string, { body: Buffer | null; bytes: Buffer }>();
  /** POSTs answered with anything but 201. */
  failures = 0;
  lastFailure = '';

  constructor(
    origin: string,
    private readonly ttlSeconds: number,
    maxSockets: number,
    /** Sent with every POST (e.g. one VAPID Authorization for v2 endpoints). */
    private readonly extraHeaders: Record<string, string> = {},
  ) {
    const url = new URL(origin);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.pool = new RawHttpPool(this.host, this.port, maxSockets);
  }

  /** Resolves with the status once the response is fully read. */
  async post(endpointPath: string, body: Buffer | null): Promise<number> {
    const response = await this.pool.request(this.requestBytes(endpointPath, body));
    if (response.status !== 201) {
      this.failures++;
      this.lastFailure = `${response.status} ${response.body}`;
    }
    return response.status;
  }

  private requestBytes(endpointPath: string, body: Buffer | null): Buffer {
    const built = this.requests.get(endpointPath);
    if (built && built.body === body) return built.bytes;
    const headers: Record<string, string | number> = { TTL: this.ttlSeconds, ...this.extraHeaders };
    if (body) {
      headers['Content-Encoding'] = 'aes128gcm';
      headers['Content-Type'] = 'application/octet-stream';
    }
    const bytes = buildPost(this.host, this.port, endpointPath, headers, body);
    this.requests.set(endpointPath, { body, bytes });
    return bytes;
  }

  close(): void {
    this.pool.close();
  }
}

/** One real RFC 8291 body per device: what a sender would POST (the keys stay with the "device"). */
export function makeBodies(count: number, payloadBytes: number): Array<Buffer | null> {
  if (payloadBytes === 0) return Array.from({ length: count }, () => null);
  const bodies: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const ua = generateUaKeys();
    const plaintext = Buffer.alloc(payloadBytes, i % 251);
    bodies.push(encryptAes128gcm({ plaintext, uaPublicKey: ua.publicKey, authSecret: generateAuthSecret() }));
  }
  return bodies;
}
