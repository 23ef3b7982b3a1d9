/**
 * This node's side of presence on the Redis bus: which devices it holds, with the claim each
 * presence key should name, kept alive on a lease. While Redis does not answer nothing is written:
 * claims made meanwhile are kept as "unannounced" and written first when it is back (they are
 * newer than whatever Redis still holds), releases are left to their leases, and every other lease
 * is renewed (or re-created, after a restart that forgot them) at once.
 */
import type { Redis } from 'ioredis';
import type { RedisHealth } from '../../redis/health.js';
import type { NodeFrame } from './redis-frames.js';
import { chunks, RELEASE, REFRESH, ROLL_CALL, runScript } from './redis-scripts.js';

export interface PresenceOptions {
  commands: Redis;
  health: Pick<RedisHealth, 'up' | 'failed'>;
  nodeId: string;
  prefix: string;
  leaseMs: number;
  /** False once the bus closes: nothing more is written. */
  active(): boolean;
  publish(node: string, frame: NodeFrame): Promise<number>;
  /** A newer claim on another node took this device: close its socket here. */
  lost(uaid: string): void;
  report(error: unknown, during: 'claim' | 'release' | 'refresh' | 'close'): void;
  peerLapsed?(nodeId: string, silentForMs: number): void;
}

export class Presence {
  /** Devices whose socket is on this node, with the claim their presence key should hold. */
  private readonly owned = new Map<string, string>();
  /** Owned devices whose claim never reached Redis (it was down): written first when it is back. */
  private readonly unannounced = new Set<string>();
  private claims = 0;
  /** Presence writes not yet answered by Redis. */
  private readonly inflight = new Set<Promise<unknown>>();
  private refreshing: Promise<void> | null = null;
  /**
   * After an outage no node could refresh its roll-call entry: for a lease, peers are not judged
   * (a Redis frozen longer than a lease would make every peer look lapsed).
   */
  private rollQuietUntil = 0;

  constructor(private readonly options: PresenceOptions) {}

  get size(): number {
    return this.owned.size;
  }

  key(uaid: string): string {
    return `${this.options.prefix}:presence:${uaid}`;
  }

  claimed(uaid: string): void {
    const claim = `${this.options.nodeId}.${(++this.claims).toString(36)}`;
    this.owned.set(uaid, claim);
    if (!this.options.health.up) {
      this.unannounced.add(uaid);
      return;
    }
    this.unannounced.delete(uaid);
    this.track('claim', () => this.announce(uaid, claim));
  }

  released(uaid: string): void {
    const claim = this.owned.get(uaid);
    if (claim === undefined) return;
    this.owned.delete(uaid);
    this.unannounced.delete(uaid);
    // Redis away: the lease runs out instead.
    if (this.options.health.up) this.track('release', () => runScript(this.options.commands, RELEASE, [this.key(uaid)], [claim]));
  }

  /** Another node took the device over `claim`: true when that was this node's current claim (now dropped). */
  replaced(uaid: string, claim: string): boolean {
    // A newer claim on this node (the device came back here since) stays.
    if (this.owned.get(uaid) !== claim) return false;
    this.owned.delete(uaid);
    this.unannounced.delete(uaid);
    return true;
  }

  /** Resolves once every presence write issued so far has been answered by Redis (tests). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Redis is back: claims made meanwhile are written, then every other lease is renewed. */
  async reannounce(): Promise<void> {
    this.rollQuietUntil = Date.now() + this.options.leaseMs;
    const pending = [...this.unannounced];
    this.unannounced.clear();
    await Promise.all(
      pending.map((uaid) => {
        const claim = this.owned.get(uaid);
        return claim === undefined ? undefined : this.announce(uaid, claim).catch((error: unknown) => this.options.report(error, 'claim'));
      }),
    );
    await this.refresh({ now: true });
  }

  refresh(options: { now?: boolean } = {}): Promise<void> {
    // One at a time; a refresh asked for now waits for the one running, then runs.
    if (this.refreshing) return options.now ? this.refreshing.then(() => this.refresh(options)) : this.refreshing;
    if (!this.options.active() || !this.options.health.up) return Promise.resolve();
    this.refreshing = this.renewLeases().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** A clean stop: this node leaves the roll call and deletes the presence it still holds. */
  async releaseAll(): Promise<void> {
    const owned = [...this.owned];
    this.owned.clear();
    await this.flush();
    const { commands } = this.options;
    await commands.zrem(this.rollKey(), this.options.nodeId);
    await Promise.all(
      chunks(owned).map((chunk) =>
        runScript(
          commands,
          RELEASE,
          chunk.map(([uaid]) => this.key(uaid)),
          chunk.map(([, claim]) => claim),
        ),
      ),
    );
  }

  /** The device's presence becomes this claim; the node holding an older socket for it closes that one. */
  private async announce(uaid: string, claim: string): Promise<void> {
    try {
      const previous = await this.options.commands.set(this.key(uaid), claim, 'PX', this.options.leaseMs, 'GET');
      const owner = previous === null ? null : ownerOf(previous);
      // protocol.md §1 across nodes: the node holding the older socket closes it.
      if (previous !== null && owner !== null && owner !== this.options.nodeId) {
        await this.options.publish(owner, { type: 'replace', uaid, claim: previous });
      }
    } catch (error) {
      this.options.health.failed(error);
      // Written when Redis is back, unless the socket is gone or claimed again by then.
      if (this.owned.get(uaid) === claim) this.unannounced.add(uaid);
      throw error;
    }
  }

  private async renewLeases(): Promise<void> {
    // Claims that never reached Redis are written by reannounce(): a refresh would take an older
    // socket's key for a newer claim on this one and close it.
    const owned = [...this.owned].filter(([uaid]) => !this.unannounced.has(uaid));
    try {
      await Promise.all([
        this.rollCall(),
        ...chunks(owned).map(async (chunk) => {
          const lost = await runScript(
            this.options.commands,
            REFRESH,
            chunk.map(([uaid]) => this.key(uaid)),
            [String(this.options.leaseMs), ...chunk.map(([, claim]) => claim)],
          );
          if (!Array.isArray(lost)) return;
          for (const position of lost) {
            const entry = typeof position === 'number' ? chunk[position - 1] : undefined;
            if (entry && this.replaced(entry[0], entry[1])) this.options.lost(entry[0]);
          }
        }),
      ]);
    } catch (error) {
      this.options.health.failed(error);
      this.options.report(error, 'refresh');
    }
  }

  /** Takes part in the nodes' roll call and reports peers whose presence lapsed. */
  private async rollCall(): Promise<void> {
    const now = Date.now();
    const { nodeId } = this.options;
    const leaseMs = now < this.rollQuietUntil ? now : this.options.leaseMs;
    const gone = await runScript(this.options.commands, ROLL_CALL, [this.rollKey()], [nodeId, String(now), String(leaseMs)]);
    if (!Array.isArray(gone)) return;
    for (let i = 0; i + 1 < gone.length; i += 2) {
      const node = String(gone[i]);
      if (node !== nodeId) this.options.peerLapsed?.(node, now - Number(gone[i + 1]));
    }
  }

  private track(activity: 'claim' | 'release', write: () => Promise<unknown>): void {
    const pending = write().catch((error: unknown) => {
      this.options.health.failed(error);
      this.options.report(error, activity);
    });
    this.inflight.add(pending);
    void pending.finally(() => this.inflight.delete(pending));
  }

  private rollKey(): string {
    return `${this.options.prefix}:nodes`;
  }
}

/** The node a claim value names ("<nodeId>.<claim>"), or null for a value Herald did not write. */
export function ownerOf(claim: string): string | null {
  const dot = claim.lastIndexOf('.');
  return dot > 0 ? claim.slice(0, dot) : null;
}
