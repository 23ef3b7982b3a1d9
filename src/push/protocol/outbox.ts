/**
 * Notifications sent on this connection and not yet acked or nacked. An ack deletes only what this
 * connection sent (a version it never sent cannot touch storage); the drain's next batch waits for
 * every message of the current one.
 */
import { toBase64Url } from '../../crypto/base64.js';
import type { ServerMessage } from './messages.js';
import type { LiveMessage } from './live.js';

export interface Pending {
  channelId: string;
  stored: boolean;
  /** Part of the drain batch in flight (the next batch waits for these). */
  inBatch: boolean;
  /** The key the channel is bound to (null: v1, or unknown): its ack counts as the app's delivery. */
  senderKeyHash: Buffer | null;
  /** When the POST arrived: the app's delivery latency runs from here to the ack. */
  receivedAt: number;
}

export class Outbox {
  private readonly pending = new Map<string, Pending>();
  /** Messages of the drain batch in flight not yet acked or nacked. */
  batchOutstanding = 0;

  get size(): number {
    return this.pending.size;
  }

  has(version: string): boolean {
    return this.pending.has(version);
  }

  get(version: string): Pending | undefined {
    return this.pending.get(version);
  }

  /** Records the message as sent and returns its notification frame. */
  notify(message: LiveMessage['message'], stored: boolean, inBatch: boolean, now: number, senderKeyHash: Buffer | null): ServerMessage {
    this.pending.set(message.id, { channelId: message.channelId, stored, inBatch, senderKeyHash, receivedAt: message.receivedAt });
    if (inBatch) this.batchOutstanding++;
    const ttl = Math.max(0, Math.round((message.expiresAt - now) / 1000));
    if (message.data === null) return { messageType: 'notification', channelID: message.channelId, version: message.id, ttl };
    const frame: ServerMessage = { messageType: 'notification', channelID: message.channelId, version: message.id, ttl, data: toBase64Url(message.data) };
    if (message.headers) frame.headers = message.headers;
    return frame;
  }

  settle(version: string): void {
    const pending = this.pending.get(version);
    if (!pending) return;
    this.pending.delete(version);
    if (pending.inBatch) this.batchOutstanding--;
  }

  /** An unregistered channel's messages will never be acked. */
  settleChannel(channelId: string): void {
    for (const [version, pending] of this.pending) if (pending.channelId === channelId) this.settle(version);
  }
}
