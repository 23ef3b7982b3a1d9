/**
 * The guard's counters in Redis, shared by every node (rate-limiter-flexible; windows timed by
 * Redis). Its own file so that ioredis and rate-limiter-flexible load only when the bus is Redis
 * (the guard imports it at start): a single node never pays for them.
 *
 * A Redis failure falls back to an in-memory counter per node, so an outage loosens the limits to
 * per-node ones instead of refusing every sender. Every Redis command answers within
 * bus.commandTimeoutMs or fails; once one has failed, counters go to the per-node ones at once,
 * without asking Redis, until a probe finds it answering again.
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RedisHealth, requestPathOptions, type DependencyState } from '../redis/health.js';
import type { Counter, CounterFactory, RedisCounterEvents } from './limiters.js';

export function openRedisCounters(bus: { url: string; keyPrefix: string; commandTimeoutMs?: number }, events: RedisCounterEvents): CounterFactory {
  const redis = new Redis(bus.url, { ...requestPathOptions(bus.commandTimeoutMs ?? 250), lazyConnect: false });
  redis.on('error', (error: Error) => events.error?.(error));
  const health = new RedisHealth(redis, { probe: async () => void (await redis.ping()) }, events);
  health.start();
  return new RedisCounters(`${bus.keyPrefix}:guard`, redis, health);
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
