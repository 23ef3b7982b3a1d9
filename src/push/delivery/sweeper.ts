import type { Store } from '../../store/types.js';

export interface SweepResult {
  expiredMessages: number;
  idleDevices: number;
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
    private readonly options: { intervalMs: number; deviceIdleMs: number; now?: () => number },
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
    const expiredMessages = await this.store.sweepExpiredMessages(now);
    const idleDevices = await this.store.sweepIdleDevices(now - this.options.deviceIdleMs);
    return { expiredMessages, idleDevices };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
