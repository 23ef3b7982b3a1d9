/** What PushDevice (device.ts) takes and what it tells its listeners. */
import type { WakeupListenOptions, WakeupVerdict } from './wakeup.js';
import type { NotificationHeaders } from './notification.js';

export interface PushDeviceOptions {
  /** ws:// or wss:// URL of Herald's connection listener. */
  serverUrl: string;
  /** Where uaid and channel keys persist (0600; it holds private keys). Without it, state lives in memory. */
  stateFile?: string;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** How often to send the protocol ping `{}`; default 300 s, never below 46 s. */
  pingIntervalMs?: number;
  /** How long to wait for the server's `hello` or `register` answers; default 10 s. */
  requestTimeoutMs?: number;
  /**
   * Herald adds (docs/wakeup.md): listen for UDP wake-up datagrams on this address and declare it
   * in hello. After sleep() the device holds no socket; a genuine datagram makes it reconnect and
   * receive what was stored meanwhile.
   */
  wakeup?: WakeupListenOptions;
  /**
   * For a Herald with push.deviceAuth = "token": the service token (`token` of getServiceToken) sent
   * in every hello. A function is asked again at each connection, so it can fetch a fresh token.
   */
  serviceToken?: string | (() => string | Promise<string>);
  /** For a Herald with devices.attestation: a fresh attestation JWT for every hello (asked at each connection). */
  attestation?: string | (() => string | Promise<string>);
}

/** Herald's answer to the declared wake-up address: 200 (key kept in the state), or why not. */
export interface WakeupHelloStatus {
  status: number;
  error?: string;
}

export interface PushMessage {
  channelID: string;
  version: string;
  /** The decrypted payload; null for a message without a body. */
  payload: Buffer | null;
  headers: NotificationHeaders;
}

export interface ResetEvent {
  /** `uaid-changed`: hello answered another uaid; `server-reset`: the server closed 1000 (msg_limit). */
  reason: 'uaid-changed' | 'server-reset';
  previousUaid: string | null;
  droppedChannels: string[];
}

export interface DisconnectEvent {
  code: number;
  reason: string;
  /** Milliseconds until the next attempt; null when the device will not reconnect. */
  reconnectInMs: number | null;
}

/** A notification the device could not deliver (it was acked 101 or 102). */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly channelID: string,
    readonly version: string,
    readonly ackCode: 101 | 102,
  ) {
    super(message);
  }
}

export interface PushDeviceEvents {
  /** Every successful hello, the first and each reconnect. */
  connected: [{ uaid: string; wakeup?: WakeupHelloStatus }];
  disconnected: [DisconnectEvent];
  notification: [PushMessage];
  /** The server forgot this device: every channel (and endpoint) is gone; register again. */
  reset: [ResetEvent];
  /** A message it could not deliver (DeliveryError) or a state file it could not write. Emitted only
   *  when someone listens, so an undecryptable message never crashes the device. */
  error: [Error];
  /** A UDP wake-up datagram arrived: accepted (the device reconnects if asleep) or why it was ignored. */
  wakeup: [WakeupVerdict];
}
