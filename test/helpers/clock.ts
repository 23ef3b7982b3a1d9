/**
 * A clock that jumps when told: Herald's `now` in tests that would otherwise wait out a window or
 * a TTL. Stopped by default (nothing a slow machine does moves it); `ticking` keeps real time
 * flowing between jumps, for a Herald whose other tests need time to pass as usual.
 */
export class ManualClock {
  private offset = 0;
  private readonly start: number;

  constructor(private readonly options: { ticking?: boolean; start?: number } = {}) {
    this.start = options.start ?? Date.now();
  }

  readonly now = (): number => (this.options.ticking ? Date.now() : this.start) + this.offset;

  advance(ms: number): void {
    this.offset += ms;
  }
}
