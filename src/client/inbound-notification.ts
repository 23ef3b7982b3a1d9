/**
 * What a device does with one notification frame: the ack code it answers (protocol.md: 100
 * delivered, 101 could not decrypt, 102 other failure) and what the application is told.
 */
import { DeliveryError, type PushMessage } from './device-types.js';
import { isHeaders, type Frame } from './device-frames.js';
import { decryptNotification, NotificationDecryptError } from './notification.js';
import type { ChannelState } from './state.js';

export type InboundOutcome =
  | { code: 100; message: PushMessage | null }
  | { code: 101 | 102; error: DeliveryError };

/**
 * Null for a frame without a string channelID and version (ignored). `seen` holds the versions
 * already handed to the application on this connection: a resend is acked again (harmless, and it
 * lets the server's batch complete) and not delivered twice.
 */
export function judgeNotification(frame: Frame, channels: Readonly<Record<string, ChannelState>>, seen: Set<string>): { channelID: string; version: string; outcome: InboundOutcome } | null {
  const { channelID, version } = frame;
  if (typeof channelID !== 'string' || typeof version !== 'string') return null;
  if (seen.has(version)) return { channelID, version, outcome: { code: 100, message: null } };
  seen.add(version);
  const headers = isHeaders(frame.headers) ? frame.headers : {};
  const channel = channels[channelID];
  if (!channel) {
    return { channelID, version, outcome: { code: 102, error: new DeliveryError(`notification for unknown channel ${channelID}`, channelID, version, 102) } };
  }
  try {
    const payload = decryptNotification(typeof frame.data === 'string' ? frame.data : undefined, headers, channel);
    return { channelID, version, outcome: { code: 100, message: { channelID, version, payload, headers } } };
  } catch (error) {
    const why = error instanceof NotificationDecryptError ? error.message : String(error);
    return { channelID, version, outcome: { code: 101, error: new DeliveryError(`notification ${version} on ${channelID}: ${why}`, channelID, version, 101) } };
  }
}
