/**
 * Counters behind the limits and ban heuristics: fixed windows in memory on one node, read on the
 * guard's clock; in Redis when the bus is Redis (redis-counters.ts, loaded only then; every node
 * then counts against the same windows, timed by Redis).
 */
import type { Redis } from 'ioredis';
import type { DependencyState, RedisHealth, RedisHealthEvents } from '../redis/health.js';

export interface Counter {
  /**
   * Counts one event for `key`. Returns null while within `points` per window, else the
   * milliseconds until the window frees a point. In memory it answers at once (no promise, so
   * a burst is counted in arrival order with no tick between check and count); in Redis, later.
   */
  hit(key: string): number | null | Promise<number | null>;
  /** Forgets what was counted for `key` (an operator lifted its ban). */
  forget(key: string): Promise<void>;
}

/**
 * How a shared counter may decide: `leased` in memory from points leased from Redis (the push
 * path's limits: no round trip per request), `exact` by asking Redis at every hit (a ban's
 * strikes, which an operator resets on one node for all of them at once).
 */
export type CounterUse = 'leased' | 'exact';

export interface CounterFactory {
  counter(name: string, points: number, seconds: number, use?: CounterUse): Counter;
  /** The Redis client when counters are shared (bans use it too), else null. */
  readonly redis: Redis | null;
  /** Whether Redis answers right now; bans skip it while it does not (null: no Redis). */
  readonly health: RedisHealth | null;
  readonly prefix: string;
  /** "local" on one node; "down" while counting per node because Redis does not answer. */
  readonly state: DependencyState;
  close(): Promise<void>;
}

export interface RedisCounterEvents extends RedisHealthEvents {
  /** Errors of the Redis connection itself (ioredis' error event). */
  error?(error: Error): void;
}

/** Counters of this node alone: the single-node guard, and a Redis guard until it has started. */
export class MemoryCounters implements CounterFactory {
  readonly redis = null;
  readonly health = null;
  readonly state = 'local';
  constructor(
    readonly prefix: string,
    private readonly now: () => number,
  ) {}

  counter(_name: string, points: number, seconds: number): Counter {
    return new WindowCounter(points, seconds * 1000, this.now);
  }

  async close(): Promise<void> {}
}

/**
 * A fixed window per key that opens at the key's first hit, as rate-limiter-flexible's memory
 * limiter counts; unlike it (Date.now and a timer per key), it reads an injected clock, so tests
 * move time instead of waiting for it.
 */
export class WindowCounter implements Counter {
  private readonly windows = new Map<string, { hits: number; endsAt: number }>();
  private nextSweepAt: number;

  constructor(
    private readonly points: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {
    this.nextSweepAt = now() + windowMs;
  }

  hit(key: string): number | null {
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { hits: 0, endsAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    window.hits++;
    return window.hits > this.points ? Math.max(1, window.endsAt - now) : null;
  }

  /**
   * Takes one point for `key` when one is left: null, else the milliseconds until the window
   * frees one. Unlike `hit`, a refusal takes nothing, so retrying while refused does not lengthen
   * the wait. Synchronous: a burst of callers each takes its own point before any slow check runs.
   */
  take(key: string): number | null {
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { hits: 0, endsAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    if (window.hits >= this.points) return Math.max(1, window.endsAt - now);
    window.hits++;
    return null;
  }

  /** Gives back a point taken in the current window (one that turned out not to count). */
  refund(key: string): void {
    const window = this.windows.get(key);
    if (window && window.endsAt > this.now() && window.hits > 0) window.hits--;
  }

  async forget(key: string): Promise<void> {
    this.windows.delete(key);
  }

  /** Forgets ended windows once per window length: memory follows the keys seen in the last window. */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.windowMs;
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}
