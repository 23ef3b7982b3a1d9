/**
 * Hand-offs the Redis bus could not make: Redis was down or slow, or the device's node did not
 * answer. The message is stored, but its device may still be connected to some node, which would
 * send it only at the device's next hello (hours away for a device that stays connected). The
 * device ids wait here until the device's node has been told to look at storage again, or until
 * no node holds the device any more (it drains at its next hello).
 *
 * Bounded: past `max` the oldest is given up (its message still waits in storage), and so is one
 * kept longer than `maxAgeMs` (its node never answered: it is gone and its devices reconnect).
 */
export class MissedHandoffs {
  private readonly since = new Map<string, number>();
  /** Device ids given up since start (metrics, tests). */
  givenUp = 0;

  constructor(
    private readonly max: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.since.size;
  }

  add(uaid: string): void {
    if (this.since.has(uaid)) return;
    this.since.set(uaid, this.now());
    if (this.since.size <= this.max) return;
    const oldest = this.since.keys().next();
    if (!oldest.done) this.since.delete(oldest.value);
    this.givenUp++;
  }

  /** The device ids still to tell, oldest first (those kept past maxAgeMs are given up). */
  list(): string[] {
    const cutoff = this.now() - this.maxAgeMs;
    const due: string[] = [];
    for (const [uaid, since] of this.since) {
      if (since >= cutoff) {
        due.push(uaid);
        continue;
      }
      this.since.delete(uaid);
      this.givenUp++;
    }
    return due;
  }

  done(uaid: string): void {
    this.since.delete(uaid);
  }
}
