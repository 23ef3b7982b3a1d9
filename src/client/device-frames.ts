/** The plain pieces of the device's socket loop: frames, pending requests, one connection attempt. */
import type WebSocket from 'ws';
import type { NotificationHeaders } from './notification.js';
import type { ChannelState } from './state.js';
import type { Subscription } from './subscription.js';

export type Frame = Record<string, unknown>;

/** A register or unregister waiting for its answer frame. */
export interface Pending {
  resolve(frame: Frame): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Sends a request frame and waits for the answer frame with the same channelID (settle()), or times out. */
export function sendRequest(socket: WebSocket, pending: Map<string, Pending>, channelID: string, frame: Frame, timeoutMs: number): Promise<Frame> {
  return new Promise<Frame>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(channelID);
      reject(new Error(`no ${String(frame.messageType)} answer within ${timeoutMs} ms`));
    }, timeoutMs);
    pending.set(channelID, { resolve, reject, timer });
    socket.send(JSON.stringify(frame));
  });
}

export function settle(pending: Map<string, Pending>, channelID: string, frame: Frame): void {
  const entry = pending.get(channelID);
  if (!entry) return;
  pending.delete(channelID);
  clearTimeout(entry.timer);
  entry.resolve(frame);
}

export function isHeaders(value: unknown): value is NotificationHeaders {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function toSubscription(channel: ChannelState): Subscription {
  return { endpoint: channel.endpoint, expirationTime: null, keys: { p256dh: channel.keys.p256dh, auth: channel.keys.auth } };
}

/** One connection attempt's promise: settled once, by the hello answer, an error, a close or the timer. */
export interface Attempt {
  settled: boolean;
  timer: NodeJS.Timeout;
  resolve(value: { uaid: string }): void;
  reject(error: Error): void;
}

export function finish(attempt: Attempt, outcome: { uaid: string } | Error): void {
  if (attempt.settled) return;
  attempt.settled = true;
  clearTimeout(attempt.timer);
  if (outcome instanceof Error) attempt.reject(outcome);
  else attempt.resolve(outcome);
}

/** A JSON object frame, or null for anything else (ignored, as Firefox does). */
export function parseFrame(text: string): Frame | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Frame) : null;
  } catch {
    return null;
  }
}
