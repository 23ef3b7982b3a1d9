/**
 * What a device session is given: its ports to the outside (send/close, the store, the device
 * registry, a clock, the hooks of hello and register) and its options. The session owns no socket
 * and no timer.
 */
import type { Store } from '../../store/types.js';
import type { FrameBudgetOptions } from './frame-budget.js';
import type { AttestationHook, DeviceAuthHook, WakeupHook } from './hooks.js';
import type { ServerMessage } from './messages.js';
import type { LiveSession } from './live.js';

export interface SessionOptions {
  msgLimit: number;
  batchSize: number;
  clientPingIntervalMs: number;
  /** A connected device's lastSeenAt is refreshed this often, so the idle sweep never takes it. */
  touchIntervalMs?: number;
  /** Channels a device may hold (guard); a register beyond answers status 409. 0 or absent: no cap. */
  maxChannelsPerDevice?: number;
  /** Frames this socket may send (guard); past a budget the socket closes 1011. Absent: no limit. */
  frameBudget?: FrameBudgetOptions;
}

export interface SessionPortsOf<S extends LiveSession> {
  store: Store;
  now(): number;
  newUaid(): string;
  newChannelId(): string;
  /** The push endpoint URL for a channel (v2 when a sender key hash is given). */
  endpointFor(uaid: string, channelId: string, senderKeyHash: Buffer | null): string;
  /** Makes this session the one that receives live messages for uaid, closing any older one. */
  claimDevice(uaid: string, session: S): void;
  releaseDevice(uaid: string, session: S): void;
  /** Current broadcast versions, by id. */
  broadcasts(): Readonly<Record<string, string>>;
  /** A register hook: a revoked or blocked sender key may not be bound to a new channel (docs/security.md). */
  isSenderKeyBlocked?(keyHash: Buffer): boolean | Promise<boolean>;
  send(message: ServerMessage): void;
  close(code: number, reason: string): void;
  observe?: SessionObserver;
  /** The socket's peer address (the socket server fills it in). */
  peerAddress?: string;
  /** A hello and register hook, Herald adds (docs/wakeup.md): UDP wake-up addresses and keys. */
  wakeup?: WakeupHook;
  /**
   * A hello hook, push.deviceAuth = "token" (docs/security.md): who the hello's token names. Given,
   * a hello without a valid token is refused, and a device answers only to the owner it registered under.
   */
  deviceAuth?: DeviceAuthHook;
  /** A hello hook, devices.attestation: a hello without an admitted attestation token is refused. */
  attestation?: AttestationHook;
}

/** Hooks for metrics and logs; never given payloads. */
export interface SessionObserver {
  delivered?(count: number, fromStorage: boolean): void;
  acked?(code: number | null): void;
  /**
   * The device acked (code 100) a message of a channel bound to this sender key, `latencyMs`
   * after its POST arrived (the console's per-app "delivered" and latency).
   */
  appDelivered?(senderKeyHash: Buffer, latencyMs: number): void;
  reset?(): void;
  registered?(): void;
  unregistered?(): void;
  violation?(reason: string): void;
  /** Storage failed under this session; the socket is closed 1011 and nothing stored is lost. */
  storageFailed?(error: unknown): void;
}
