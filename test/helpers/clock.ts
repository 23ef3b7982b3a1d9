/** A clock that moves only when told: Herald's `now` in tests that would otherwise wait out a window. */
export class ManualClock {
  private time: number;

  constructor(start = Date.now()) {
    this.time = start;
  }

  readonly now = (): number => this.time;

  advance(ms: number): void {
    this.time += ms;
  }
}
