/**
 * One holder at a time per key, in this process. The backlog caps read the stored count and then
 * the message is stored: without a lock, a parallel burst to one device would all read the same
 * count and all be stored (a limit read before and counted after lets the burst through). Only
 * the slow path near a cap takes it, so a device far below its caps never waits.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Resolves when `key` is free, with the function that frees it again (call it exactly once). */
  async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let free!: () => void;
    const mine = new Promise<void>((resolve) => (free = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      free();
      // The last holder leaves no entry behind.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
