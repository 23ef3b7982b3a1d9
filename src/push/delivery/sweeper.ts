import type { SenderKeyCount, Store } from '../../store/types.js';

export interface SweepResult {
  expiredMessages: number;
  idleDevices: number;
}

export interface SweeperOptions {
  intervalMs: number;
  deviceIdleMs: number;
  now?: () => number;
  /**
   * The expired messages of key-bound channels, per sender key (the console's per-app "expired"),
   * told by every sweep, the timer's and one run by hand alike.
   */
  expired?: (bySenderKey: readonly SenderKeyCount[]) => void;
}

/**
 * Periodic housekeeping: expired messages, and devices unused for `deviceIdleMs` with everything
 * they had. Runs one sweep at a time; a failed sweep is reported and retried at the next tick.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: SweeperOptions,
    private readonly report: (result: SweepResult | Error) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep().then(this.report, this.report), this.options.intervalMs);
    this.timer.unref();
  }

  sweep(): Promise<SweepResult> {
    this.running ??= this.sweepOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweepOnce(): Promise<SweepResult> {
    const now = (this.options.now ?? Date.now)();
    const expired = await this.store.sweepExpiredMessages(now);
    if (expired.bySenderKey.length > 0) this.options.expired?.(expired.bySenderKey);
    const expiredMessages = expired.deleted;
    const idleDevices = await this.store.sweepIdleDevices(now - this.options.deviceIdleMs);
    return { expiredMessages, idleDevices };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
