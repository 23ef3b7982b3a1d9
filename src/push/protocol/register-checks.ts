/**
 * The checks a register passes before anything is written (hooks of register, src/push/protocol/
 * hooks.ts): a sender key that is revoked or blocked may not be bound to a new channel
 * (docs/security.md), and a device holds at most guard.maxChannelsPerDevice channels.
 */
import type { DeviceStore } from '../../store/types.js';
import type { RegisterCheck } from './hooks.js';

const SENDER_KEY_REVOKED = "the application server's key is revoked; subscribe with its new key";

export function senderKeyNotBlocked(isBlocked: (keyHash: Buffer) => boolean | Promise<boolean>): RegisterCheck {
  return async ({ senderKeyHash }) => (senderKeyHash && (await isBlocked(senderKeyHash)) ? { status: 400, error: SENDER_KEY_REVOKED } : null);
}

/** Re-registering a channel the device already holds replaces it, so it never counts against the cap. */
export function channelCap(store: Pick<DeviceStore, 'countChannels' | 'getChannel'>, max: number): RegisterCheck {
  return async ({ uaid, channelId }) => {
    if (max <= 0 || (await store.countChannels(uaid)) < max) return null;
    if ((await store.getChannel(uaid, channelId)) !== null) return null;
    return { status: 409, error: `too many registrations for this device (at most ${max}); unregister one first` };
  };
}
