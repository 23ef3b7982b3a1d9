/**
 * Counters behind the limits and ban heuristics: fixed windows in memory on one node, read on the
 * guard's clock; in Redis when the bus is Redis (rate-limiter-flexible; every node then counts
 * against the same windows, timed by Redis). A Redis failure falls back to an in-memory counter
 * per node, so an outage loosens the limits to per-node ones instead of refusing every sender.
 * Every Redis command answers within bus.commandTimeoutMs or fails; once one has failed, counters
 * go to the per-node ones at once, without asking Redis, until a probe finds it answering again.
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RedisHealth, requestPathOptions, type DependencyState, type RedisHealthEvents } from '../redis/health.js';

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

export function openCounters(
  bus: { url: string; keyPrefix: string; commandTimeoutMs?: number },
  events: RedisCounterEvents,
  now: () => number = Date.now,
): CounterFactory {
  const prefix = `${bus.keyPrefix}:guard`;
  if (bus.url === 'local') return new MemoryCounters(prefix, now);
  const redis = new Redis(bus.url, { ...requestPathOptions(bus.commandTimeoutMs ?? 250), lazyConnect: false });
  redis.on('error', (error: Error) => events.error?.(error));
  const health = new RedisHealth(redis, { probe: async () => void (await redis.ping()) }, events);
  health.start();
  return new RedisCounters(prefix, redis, health);
}

class MemoryCounters implements CounterFactory {
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
    readonly health: RedisHealth,
  ) {}

  get state(): DependencyState {
    return this.health.state;
  }

  counter(name: string, points: number, seconds: number): Counter {
    const keyPrefix = `${this.prefix}:${name}`;
    const shared = new RateLimiterRedis({ storeClient: this.redis, keyPrefix, points, duration: seconds });
    return new FallbackCounter(shared, new RateLimiterMemory({ keyPrefix, points, duration: seconds }), this.health);
  }

  async close(): Promise<void> {
    this.health.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Redis' window while Redis answers; this node's own window (the insurance counter) while it does not. */
class FallbackCounter implements Counter {
  constructor(
    private readonly shared: RateLimiterAbstract,
    private readonly local: RateLimiterMemory,
    private readonly health: RedisHealth,
  ) {}

  async hit(key: string): Promise<number | null> {
    if (this.health.up) {
      try {
        return await consume(this.shared, key);
      } catch (error) {
        this.health.failed(error);
      }
    }
    // Neither counter answered: let the request through rather than refuse every sender because
    // the limiter itself failed.
    return consume(this.local, key).catch(() => null);
  }

  async forget(key: string): Promise<void> {
    await this.local.delete(key).catch(() => false);
    if (this.health.up) await this.shared.delete(key).catch((error: unknown) => this.health.failed(error));
  }
}

/** null within the limit, else the ms until a point frees; rejects only when the limiter failed. */
async function consume(limiter: RateLimiterAbstract, key: string): Promise<number | null> {
  try {
    await limiter.consume(key, 1);
    return null;
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return Math.max(1, rejection.msBeforeNext);
    throw rejection;
  }
}
