/**
 * The guard's counters in Redis, shared by every node: leases of each window's points
 * (redis-leases.ts), so a request is decided in memory and Redis is asked once per lease, not per
 * request; windows are timed by Redis. Its own file so that ioredis loads only when the bus is
 * Redis (the guard imports it at start): a single node never pays for it.
 *
 * A Redis failure falls back to an in-memory counter per node, so an outage loosens the limits to
 * per-node ones instead of refusing every sender. Every Redis command answers within
 * bus.commandTimeoutMs or fails; once one has failed, counters go to the per-node ones at once,
 * without asking Redis, until a probe finds it answering again.
 */
import { Redis } from 'ioredis';
import { RedisHealth, requestPathOptions, type DependencyState } from '../redis/health.js';
import { WindowCounter, type Counter, type CounterFactory, type CounterUse, type RedisCounterEvents } from './limiters.js';
import { ExactCounter, LeasedCounter, withGrantScript } from './redis-leases.js';

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

  counter(name: string, points: number, seconds: number, use: CounterUse = 'leased'): Counter {
    const client = withGrantScript(this.redis);
    const keyPrefix = `${this.prefix}:${name}`;
    const windowMs = seconds * 1000;
    const shared = use === 'leased' ? new LeasedCounter(client, keyPrefix, points, windowMs) : new ExactCounter(client, keyPrefix, points, windowMs);
    return new FallbackCounter(shared, new WindowCounter(points, seconds * 1000, Date.now), this.health);
  }

  async close(): Promise<void> {
    this.health.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Redis' window while Redis answers; this node's own window (the insurance counter) while it does not. */
class FallbackCounter implements Counter {
  constructor(
    private readonly shared: Counter,
    private readonly local: WindowCounter,
    private readonly health: RedisHealth,
  ) {}

  hit(key: string): number | null | Promise<number | null> {
    // Redis down: this node's own window decides (per node, so looser; it never refuses everyone).
    if (!this.health.up) return this.local.hit(key);
    const decided = this.shared.hit(key);
    if (!(decided instanceof Promise)) return decided;
    return decided.catch((error: unknown) => {
      this.health.failed(error);
      return this.local.hit(key);
    });
  }

  async forget(key: string): Promise<void> {
    await this.local.forget(key);
    if (this.health.up) await this.shared.forget(key).catch((error: unknown) => this.health.failed(error));
  }
}
