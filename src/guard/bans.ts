/**
 * Sources refused for a cool-down after abusive behaviour. Each ban is a record that expires by
 * itself: a Map entry on one node, a Redis key with a TTL on many (every node then refuses the
 * source, and `herald admin bans` on any node lists them all). Nothing is written to the store:
 * source addresses are never persisted.
 */
import type { Redis } from 'ioredis';
import type { RedisHealth } from '../redis/health.js';

export type BanReason = 'invalid-signatures' | 'dead-endpoints';

export interface Ban {
  /** The source key (`4:203.0.113.7`, `6:2001:db8::/64`). */
  source: string;
  reason: BanReason;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface BanList {
  ban(source: string, reason: BanReason, seconds: number): Promise<void>;
  /** Milliseconds the source is still refused, or null when it is not banned (in memory: at once, no promise). */
  remaining(source: string): number | null | Promise<number | null>;
  list(): Promise<Ban[]>;
  /** Ends the source's ban now; false when it was not banned. */
  lift(source: string): Promise<boolean>;
}

/** Bans beyond this many are not recorded on one node: a flood of sources must not grow memory without end. */
const MAX_MEMORY_BANS = 100_000;

export class MemoryBanList implements BanList {
  private readonly bans = new Map<string, { reason: BanReason; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async ban(source: string, reason: BanReason, seconds: number): Promise<void> {
    if (this.bans.size >= MAX_MEMORY_BANS) this.prune();
    if (this.bans.size >= MAX_MEMORY_BANS) return;
    this.bans.set(source, { reason, expiresAt: this.now() + seconds * 1000 });
  }

  remaining(source: string): number | null {
    const ban = this.bans.get(source);
    if (!ban) return null;
    const left = ban.expiresAt - this.now();
    if (left > 0) return left;
    this.bans.delete(source);
    return null;
  }

  async lift(source: string): Promise<boolean> {
    return this.remaining(source) !== null && this.bans.delete(source);
  }

  async list(): Promise<Ban[]> {
    this.prune();
    return [...this.bans].map(([source, ban]) => ({ source, ...ban }));
  }

  private prune(): void {
    const now = this.now();
    for (const [source, ban] of this.bans) if (ban.expiresAt <= now) this.bans.delete(source);
  }
}

/**
 * Redis keeps the time of these bans (a key's TTL is the ban), so every node agrees on its end.
 * While Redis does not answer, nobody is banned and no ban is recorded: bans are a heuristic, and
 * the limits still count per node. A send never waits on Redis for them (see `health`).
 */
export class RedisBanList implements BanList {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
    private readonly health: Pick<RedisHealth, 'up' | 'failed'> = { up: true, failed: () => {} },
  ) {}

  async ban(source: string, reason: BanReason, seconds: number): Promise<void> {
    if (!this.health.up) return;
    const expiresAt = this.now() + seconds * 1000;
    await this.redis.set(this.key(source), JSON.stringify({ reason, expiresAt }), 'PX', seconds * 1000).catch((error: unknown) => this.health.failed(error));
  }

  async remaining(source: string): Promise<number | null> {
    if (!this.health.up) return null;
    const left = await this.redis.pttl(this.key(source)).catch((error: unknown) => {
      this.health.failed(error);
      return -2;
    });
    return left > 0 ? left : null;
  }

  async list(): Promise<Ban[]> {
    const bans: Ban[] = [];
    const match = `${this.prefix}:ban:*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      cursor = next;
      const values = keys.length > 0 ? await this.redis.mget(...keys) : [];
      keys.forEach((key, i) => {
        const value = values[i];
        if (!value) return;
        const record = JSON.parse(value) as { reason: BanReason; expiresAt: number };
        bans.push({ source: key.slice(match.length - 1), ...record });
      });
    } while (cursor !== '0');
    return bans;
  }

  async lift(source: string): Promise<boolean> {
    return (await this.redis.del(this.key(source))) > 0;
  }

  private key(source: string): string {
    return `${this.prefix}:ban:${source}`;
  }
}
