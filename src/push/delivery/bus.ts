import type { DependencyState } from '../../redis/health.js';
import type { LiveMessage } from '../protocol/session.js';

/**
 * Carries an accepted message to whichever node holds the device's socket. One node: in-process
 * (LocalBus). Many nodes: Redis presence + pub/sub (RedisBus). Both sit behind this interface.
 */
export interface Bus extends DevicePresence {
  /** How the startup log names this bus (never with credentials). */
  readonly description: string;
  /** For /__heartbeat__: "local" on one node; "down" while Redis does not answer. */
  readonly state: DependencyState;
  /** Connects and subscribes; a bus that cannot reach its broker fails the start. */
  start(): Promise<void>;
  /**
   * Resolves true when a connected session took the message (it still awaits the device's ack).
   * Never rejects: false only means the device gets it from storage at its next hello.
   */
  deliver(uaid: string, live: LiveMessage): Promise<boolean>;
  close(): Promise<void>;
}

/** What the registry of live sessions tells the bus: this node now holds, or no longer holds, a device. */
export interface DevicePresence {
  claimed(uaid: string): void;
  released(uaid: string): void;
}

/** The side of the connection layer a bus hands work to on this node. */
export interface LocalDevices {
  deliverLocal(uaid: string, live: LiveMessage): boolean;
  /**
   * Storage holds messages for this device that a failed hand-off never brought here: its session
   * looks again. False when this node holds no session for it.
   */
  recheck(uaid: string): boolean;
  /** The bus is back after an outage: every session here looks at storage again (paced). */
  recheckAll(): void;
  /** A newer socket for this device opened on another node: close this node's one (protocol.md §1). */
  closeReplaced(uaid: string): void;
}
