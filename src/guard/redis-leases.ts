/**
 * A limit shared by every node through Redis that does not cost a Redis round trip per request.
 *
 * Each node takes points from the shared window in leases (a share of the window's points, granted
 * atomically by one Lua call) and spends them in memory. A hit with a point left in its lease is
 * decided at once, synchronously; only the hit that finds its lease empty waits for Redis, and a
 * large lease is renewed before it runs out, so that one rarely waits either. Once Redis grants
 * nothing more, the window is full: this node refuses its hits in memory until the window ends,
 * so a flood past the limit costs Redis nothing.
 *
 * Exact in the direction that matters: every point spent was granted by Redis first, so the nodes
 * together never admit more than `points` per window, however a burst is spread over them (the
 * grant is one atomic script; there is no read-then-count gap). The price is the other way: points
 * leased and not spent when the window ends are lost, so a sender close to its limit may be refused
 * up to `nodes × 1.5 × lease` points early (a lease is 1/64 of the window, at most 256 points).
 *
 * Windows are fixed and open at the key's first grant, timed by Redis (as rate-limiter-flexible's
 * Redis limiter counts, which this replaces on the push path).
 */
import type { Redis } from 'ioredis';
import type { Counter } from './limiters.js';

/**
 * KEYS[1]: the window's key. ARGV: points wanted, the window's points, its length (ms).
 * Returns {granted, ms left in the window}; granted is 0 once the window is full.
 */
const GRANT_LUA = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  redis.call('SET', KEYS[1], 0, 'PX', ARGV[3])
  ttl = tonumber(ARGV[3])
end
local used = tonumber(redis.call('GET', KEYS[1]))
local granted = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if granted > 0 then
  redis.call('INCRBY', KEYS[1], granted)
else
  granted = 0
end
return {granted, ttl}`;

const COMMAND = 'heraldGuardGrant';
/** A lease is this share of the window's points... */
const LEASE_SHARE = 64;
/** ...and at most this many: the points one node may hold unspent. */
const MAX_LEASE = 256;
/** Leases of at least this many points are renewed before they run out (smaller ones would hoard). */
const RENEW_FROM = 8;

type GrantClient = Redis & { [COMMAND](key: string, want: number, points: number, windowMs: number): Promise<[number, number]> };

/** Registers the grant script on a client (ioredis runs it by SHA and resends it after a Redis restart). */
export function withGrantScript(redis: Redis): GrantClient {
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: GRANT_LUA });
  return redis as GrantClient;
}

interface Lease {
  /** Points granted to this node and not yet spent. */
  left: number;
  /** When the shared window ends, on this node's clock. */
  endsAt: number;
  /** Redis granted nothing: the window is full until endsAt. */
  full: boolean;
  /** A grant on its way (hits that find no point left wait for it rather than ask again). */
  asking: Promise<void> | null;
}

export class LeasedCounter implements Counter {
  private readonly leases = new Map<string, Lease>();
  private readonly leaseSize: number;
  private nextSweepAt: number;

  constructor(
    private readonly redis: GrantClient,
    private readonly keyPrefix: string,
    private readonly points: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.leaseSize = Math.max(1, Math.min(MAX_LEASE, Math.ceil(points / LEASE_SHARE)));
    this.nextSweepAt = now() + windowMs;
  }

  hit(key: string): number | null | Promise<number | null> {
    const now = this.now();
    this.sweep(now);
    let lease = this.leases.get(key);
    if (lease && lease.endsAt <= now) {
      // The window ended: its unspent points are not this window's to spend.
      if (lease.asking) {
        lease.left = 0;
        lease.full = false;
      } else {
        this.leases.delete(key);
        lease = undefined;
      }
    }
    if (lease && lease.left > 0) {
      lease.left--;
      if (lease.left < this.leaseSize / 2 && this.leaseSize >= RENEW_FROM && !lease.full && !lease.asking) void this.ask(key, lease).catch(() => undefined);
      return null;
    }
    if (lease?.full) return Math.max(1, lease.endsAt - now);
    return this.waitForPoint(key, lease);
  }

  async forget(key: string): Promise<void> {
    this.leases.delete(key);
    await this.redis.del(this.redisKey(key));
  }

  /** No point in hand: ask Redis (or join the grant already asked for), then decide again. */
  private async waitForPoint(key: string, known: Lease | undefined): Promise<number | null> {
    let lease = known;
    if (!lease) {
      lease = { left: 0, endsAt: this.now() + this.windowMs, full: false, asking: null };
      this.leases.set(key, lease);
    }
    await (lease.asking ?? this.ask(key, lease));
    // Hits that waited on one grant share it; those it did not cover ask again (or are refused).
    return this.hit(key);
  }

  private ask(key: string, lease: Lease): Promise<void> {
    const asking = this.redis[COMMAND](this.redisKey(key), this.leaseSize, this.points, this.windowMs).then(
      ([granted, msLeft]) => {
        const endsAt = this.now() + Number(msLeft);
        // A grant from a later window (it ends a window later, give or take the round trip): what
        // was left of the old lease belonged to the old one.
        if (endsAt > lease.endsAt + this.windowMs / 2) lease.left = 0;
        lease.left += Number(granted);
        lease.endsAt = endsAt;
        lease.full = Number(granted) === 0;
        lease.asking = null;
      },
      (error: unknown) => {
        lease.asking = null;
        throw error;
      },
    );
    lease.asking = asking;
    return asking;
  }

  private redisKey(key: string): string {
    return `${this.keyPrefix}:${key}`;
  }

  /** Forgets ended windows once per window length: memory follows the keys seen in the last window. */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.windowMs;
    for (const [key, lease] of this.leases) if (lease.endsAt <= now && !lease.asking) this.leases.delete(key);
  }
}

/**
 * The same shared window without leases: every hit asks Redis. For counters that an operator
 * resets on one node and every node must see reset at once (a ban's strikes), and that count
 * only failures, so they are never on the hot path.
 */
export class ExactCounter implements Counter {
  constructor(
    private readonly redis: GrantClient,
    private readonly keyPrefix: string,
    private readonly points: number,
    private readonly windowMs: number,
  ) {}

  async hit(key: string): Promise<number | null> {
    const [granted, msLeft] = await this.redis[COMMAND](`${this.keyPrefix}:${key}`, 1, this.points, this.windowMs);
    return Number(granted) > 0 ? null : Math.max(1, Number(msLeft));
  }

  async forget(key: string): Promise<void> {
    await this.redis.del(`${this.keyPrefix}:${key}`);
  }
}
