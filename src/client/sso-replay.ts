/**
 * The replay cache of the relying-party kit (docs/sso.md): a recovery payload and a logout token
 * are each accepted once. One process: memory. Many nodes behind one load balancer: every node
 * must see what the others accepted, so the cache is shared, in Redis (`SET key 1 PX ttl NX`,
 * atomic: of two nodes given the same payload at once, exactly one sets the key).
 */

/** Remembers keys already used until they expire. */
export interface ReplayCache {
  /** true when `key` was already recorded (a replay); records it until `expiresAtMs` otherwise. Throws when the cache cannot answer. */
  seen(key: string, expiresAtMs: number): boolean | Promise<boolean>;
}

export class MemoryReplayCache implements ReplayCache {
  private readonly entries = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}

  seen(key: string, expiresAtMs: number): boolean {
    const now = this.now();
    if (this.entries.size > 1000) for (const [each, until] of this.entries) if (until <= now) this.entries.delete(each);
    const until = this.entries.get(key);
    if (until !== undefined && until > now) return true;
    this.entries.set(key, expiresAtMs);
    return false;
  }
}

/** The one Redis command the cache needs; an ioredis client has it. */
export interface RedisSetNx {
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | null>;
}

export class RedisReplayCache implements ReplayCache {
  /** `prefix` keeps apps sharing one Redis apart (e.g. `myapp:sso:`). */
  constructor(
    private readonly redis: RedisSetNx,
    private readonly prefix = 'herald-sso:replay:',
    private readonly now: () => number = Date.now,
  ) {}

  async seen(key: string, expiresAtMs: number): Promise<boolean> {
    // At least 1 ms: an entry that expires as it is written still refuses a replay racing it.
    const ttl = Math.max(1, Math.ceil(expiresAtMs - this.now()));
    return (await this.redis.set(this.prefix + key, '1', 'PX', ttl, 'NX')) === null;
  }
}

/** Redis when a client is given (many nodes), memory otherwise (one process). */
export function replayCacheFor(redis: RedisSetNx | null | undefined, options: { prefix?: string; now?: () => number } = {}): ReplayCache {
  return redis ? new RedisReplayCache(redis, options.prefix, options.now) : new MemoryReplayCache(options.now);
}
