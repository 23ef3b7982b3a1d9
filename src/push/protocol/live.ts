/** Messages handed to a connected device as they are accepted, rather than read from storage. */
import type { StoredMessage } from '../../store/types.js';

/** A message handed to a connected device; `stored` is false only for TTL=0 messages. */
export interface LiveMessage {
  message: StoredMessage | Omit<StoredMessage, 'seq'>;
  stored: boolean;
  /**
   * The sender key the message's channel is bound to (v2), for the per-app "delivered" count at
   * the device's ack; null for a v1 channel. Absent when a node of the older bus format sent it:
   * the session then uses the binding it knows, if any.
   */
  senderKeyHash?: Buffer | null;
}

/** What the device registry needs of a session (PushSession in Herald; plain objects in bus tests). */
export interface LiveSession {
  deliverLive(live: LiveMessage): void;
  terminate(code: number, reason: string): void;
  /** Storage may hold messages not sent yet: look again. Resolves false when storage failed. */
  recheckStorage?(): Promise<boolean>;
}
