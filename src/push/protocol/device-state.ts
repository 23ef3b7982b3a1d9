/** What one connection knows about its device, read and changed by the frame handlers. */
import type { Urgency, WakeupAddress } from '../../store/types.js';

export type Phase = 'awaiting-hello' | 'ready' | 'closed';

const URGENCY_RANK: Record<Urgency, number> = { 'very-low': 0, low: 1, normal: 2, high: 3 };

export class DeviceState {
  phase: Phase = 'awaiting-hello';
  uaid: string | null = null;
  /** The device record exists in storage (a known uaid, or a first register done). */
  recorded = false;
  /** push.deviceAuth: the token-server user this socket's hello was authenticated as. */
  owner: string | null = null;
  /** Messages below this urgency stay stored and are not sent on this connection. */
  minUrgency: Urgency = 'very-low';
  lastPingAt: number | null = null;
  lastTouchAt = 0;
  /** A wake-up address accepted at hello for a device not recorded yet: stored at its first register. */
  pendingWakeup: WakeupAddress | null = null;
  readonly broadcasts = new Set<string>();
  /**
   * The sender key each channel is bound to (null: v1), as far as this connection knows: set by its
   * registers, dropped by its unregisters, read from storage for channels a drain meets first. A
   * device has one socket at a time, so nothing else rebinds its channels meanwhile. Per-app stats.
   */
  readonly channelKeys = new Map<string, Buffer | null>();

  wanted(urgency: Urgency): boolean {
    return URGENCY_RANK[urgency] >= URGENCY_RANK[this.minUrgency];
  }
}
