import type { LiveMessage } from '../protocol/session.js';

/**
 * Carries an accepted message to whichever node holds the device's socket. One node: in-process
 * (LocalBus). Many nodes: Redis pub/sub with presence (a later backend behind the same interface).
 */
export interface Bus {
  /** Resolves true when a connected session took the message (it still awaits the device's ack). */
  deliver(uaid: string, live: LiveMessage): Promise<boolean>;
  close(): Promise<void>;
}

/** The side of the connection layer a bus hands messages to on this node. */
export interface LocalDevices {
  deliverLocal(uaid: string, live: LiveMessage): boolean;
}
