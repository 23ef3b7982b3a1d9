/**
 * The device side of UDP wake-up (docs/wakeup.md): a UDP listener that accepts only datagrams
 * Herald made for this device, recently, and never the same one twice. What it accepts tells the
 * device one thing: "connect and fetch". A datagram carries nothing else, so the worst a forger
 * who slips past could do is make the device connect once.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { fromBase64Url } from '../crypto/base64.js';
import { openWakeupDatagram, peekWakeupKeyId, WAKEUP_KEY_BYTES } from '../crypto/wakeup.js';

/** The key Herald handed this device in its hello answer, and the newest counter seen under it. */
export interface WakeupKeyState {
  keyId: number;
  /** base64url, 32 bytes. */
  key: string;
  /** Decimal string (a uint64); "0" before the first datagram. */
  lastCounter: string;
}

/** Datagrams older (or further ahead) than this are stale, whatever their MAC. */
export const WAKEUP_MAX_AGE_MS = 60_000;

export type WakeupRejection = 'malformed' | 'unknown-key' | 'forged' | 'stale' | 'replayed';

export type WakeupVerdict = { accepted: true; counter: bigint } | { accepted: false; reason: WakeupRejection };

/**
 * Judges one datagram against the device's key: shape, key id, MAC (constant-time), age and
 * counter, in that order, so nothing about a datagram that fails its MAC is believed.
 */
export function judgeWakeupDatagram(datagram: Uint8Array, key: WakeupKeyState | undefined, now: number): WakeupVerdict {
  const keyId = peekWakeupKeyId(datagram);
  if (keyId === null) return { accepted: false, reason: 'malformed' };
  const secret = key ? fromBase64Url(key.key) : null;
  if (!key || key.keyId !== keyId || !secret || secret.length !== WAKEUP_KEY_BYTES) return { accepted: false, reason: 'unknown-key' };
  const fields = openWakeupDatagram(datagram, secret);
  if (!fields) return { accepted: false, reason: 'forged' };
  if (Math.abs(now - fields.timestamp) > WAKEUP_MAX_AGE_MS) return { accepted: false, reason: 'stale' };
  if (fields.counter <= BigInt(key.lastCounter)) return { accepted: false, reason: 'replayed' };
  return { accepted: true, counter: fields.counter };
}

export interface WakeupListenOptions {
  /** The address declared to Herald: it must be the address Herald sees this device connect from. */
  host: string;
  /** 0: any free port (the bound one is declared). */
  port: number;
  /** Where the UDP socket binds; defaults to host. */
  bindAddress?: string;
}

export interface WakeupListenerHandlers {
  /** The key in force now (it changes when a hello answer hands a new one). */
  key(): WakeupKeyState | undefined;
  /** Every datagram's verdict; on acceptance the caller records the counter before anything else. */
  judged(verdict: WakeupVerdict): void;
  now?(): number;
}

export class WakeupListener {
  private socket: Socket | undefined;
  private boundPort = 0;

  constructor(
    private readonly options: WakeupListenOptions,
    private readonly handlers: WakeupListenerHandlers,
  ) {}

  /** The {host, port} to declare in hello; valid once listen() resolved. */
  get declaration(): { host: string; port: number } {
    return { host: this.options.host, port: this.boundPort };
  }

  get listening(): boolean {
    return this.socket !== undefined;
  }

  async listen(): Promise<{ host: string; port: number }> {
    if (this.socket) return this.declaration;
    const bindAddress = this.options.bindAddress ?? this.options.host;
    const socket = createSocket(isIPv6(bindAddress) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.options.port, bindAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Errors after binding (e.g. ICMP noise) must not end the process; the listener keeps going.
    socket.on('error', () => undefined);
    socket.on('message', (datagram) => {
      const key = this.handlers.key();
      this.handlers.judged(judgeWakeupDatagram(datagram, key, this.handlers.now?.() ?? Date.now()));
    });
    this.socket = socket;
    this.boundPort = socket.address().port;
    return this.declaration;
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
