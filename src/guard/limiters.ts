/**
 * Counters behind the limits and ban heuristics: fixed windows in memory on one node, read on the
 * guard's clock; in Redis when the bus is Redis (rate-limiter-flexible; every node then counts
 * against the same windows, timed by Redis). A Redis failure falls back to an in-memory counter
 * per node (the library's insurance limiter), so an outage loosens the limits to per-node ones
 * instead of refusing every sender.
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface Counter {
  /**
   * Counts one event for `key`. Returns null while within `points` per window, else the
   * milliseconds until the window frees a point.
   */
  hit(key: string): Promise<number | null>;
  /** Forgets what was counted for `key` (an operator lifted its ban). */
  forget(key: string): Promise<void>;
}

export interface CounterFactory {
  counter(name: string, points: number, seconds: number): Counter;
  /** The Redis client when counters are shared (bans use it too), else null. */
  readonly redis: Redis | null;
  readonly prefix: string;
  close(): Promise<void>;
}

export function openCounters(
  bus: { url: string; keyPrefix: string },
  onRedisError: (error: Error) => void,
  now: () => number = Date.now,
): CounterFactory {
  const prefix = `${bus.keyPrefix}:guard`;
  if (bus.url === 'local') return new MemoryCounters(prefix, now);
  const redis = new Redis(bus.url, {
    // A limiter must answer at once: queued commands while Redis is away would stall every POST.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
  });
  redis.on('error', onRedisError);
  return new RedisCounters(prefix, redis);
}

class MemoryCounters implements CounterFactory {
  readonly redis = null;
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

  async hit(key: string): Promise<number | null> {
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

class RedisCounters implements CounterFactory {
  constructor(
    readonly prefix: string,
    readonly redis: Redis,
  ) {}

  counter(name: string, points: number, seconds: number): Counter {
    const keyPrefix = `${this.prefix}:${name}`;
    return wrap(
      new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix,
        points,
        duration: seconds,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: seconds }),
      }),
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function wrap(limiter: RateLimiterAbstract): Counter {
  return {
    async hit(key) {
      try {
        await limiter.consume(key, 1);
        return null;
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return Math.max(1, rejection.msBeforeNext);
        // Neither Redis nor the insurance counter answered: let the request through rather than
        // refuse every sender because the limiter itself failed.
        return null;
      }
    },
    async forget(key) {
      await limiter.delete(key).catch(() => false);
    },
  };
}
