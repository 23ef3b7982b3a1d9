/**
 * Spares the backlog-cap check its storage query on most messages. Asking storage how much a
 * device holds (a count and a sum over its rows) on every POST cost about a tenth of the hot
 * path's CPU; yet a device far below its caps cannot reach them in a moment.
 *
 * After a query that finds a device below half of both caps, the device's figures are kept for a
 * short window and grown by every message accepted for it meanwhile; the cap check answers from
 * them while they stay below half the caps. Deletions (acks, expiry) only shrink the real backlog,
 * so the kept figures never under-count what this node stored. Other nodes' messages are not
 * seen: with N nodes a device may overshoot half its cap by what N - 1 nodes accept in one window,
 * which the per-device rate limit bounds. At half the caps or past the window, storage is asked.
 */
export interface Backlog {
  messages: number;
  bytes: number;
}

interface Headroom extends Backlog {
  until: number;
}

export class BacklogHeadroom {
  private readonly devices = new Map<string, Headroom>();

  constructor(
    private readonly caps: { maxMessages: number; maxBytes: number },
    private readonly windowMs = 1000,
    private readonly maxDevices = 100_000,
  ) {}

  /** True when the device certainly has room for one more message of this size (no query needed). */
  roomWithoutAsking(uaid: string, now: number, payloadBytes: number): boolean {
    const kept = this.devices.get(uaid);
    if (kept === undefined) return false;
    if (now >= kept.until || !this.belowHalf(kept.messages + 1, kept.bytes + payloadBytes)) {
      this.devices.delete(uaid);
      return false;
    }
    kept.messages += 1;
    kept.bytes += payloadBytes;
    return true;
  }

  /** What storage answered, plus the message about to be stored; kept only when far below the caps. */
  remember(uaid: string, now: number, backlog: Backlog, payloadBytes: number): void {
    const messages = backlog.messages + 1;
    const bytes = backlog.bytes + payloadBytes;
    if (!this.belowHalf(messages, bytes)) return;
    if (this.devices.size >= this.maxDevices) {
      // Oldest first out (a Map iterates in insertion order).
      const oldest = this.devices.keys().next().value;
      if (oldest !== undefined) this.devices.delete(oldest);
    }
    this.devices.set(uaid, { messages, bytes, until: now + this.windowMs });
  }

  private belowHalf(messages: number, bytes: number): boolean {
    const { maxMessages, maxBytes } = this.caps;
    return (maxMessages === 0 || messages * 2 <= maxMessages) && (maxBytes === 0 || bytes * 2 <= maxBytes);
  }
}
