/**
 * Counters behind the limits and ban heuristics, from rate-limiter-flexible: in memory on one node,
 * in Redis when the bus is Redis (every node then counts against the same windows). A Redis
 * failure falls back to an in-memory counter per node (the library's insurance limiter), so an
 * outage loosens the limits to per-node ones instead of refusing every sender.
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface Counter {
  /**
   * Counts one event for `key`. Returns null while within `points` per window, else the
   * milliseconds until the window frees a point.
   */
  hit(key: string): Promise<number | null>;
}

export interface CounterFactory {
  counter(name: string, points: number, seconds: number): Counter;
  /** The Redis client when counters are shared (bans use it too), else null. */
  readonly redis: Redis | null;
  readonly prefix: string;
  close(): Promise<void>;
}

export function openCounters(bus: { url: string; keyPrefix: string }, onRedisError: (error: Error) => void): CounterFactory {
  const prefix = `${bus.keyPrefix}:guard`;
  if (bus.url === 'local') return new MemoryCounters(prefix);
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
  constructor(readonly prefix: string) {}

  counter(name: string, points: number, seconds: number): Counter {
    return wrap(new RateLimiterMemory({ keyPrefix: `${this.prefix}:${name}`, points, duration: seconds }));
  }

  async close(): Promise<void> {}
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
  };
}
