/**
 * The guard: rate limits, abuse bans and caps, decided here and applied by the edges that call it
 * (the sender endpoint through endpoint-guard.ts, the device socket through its upgrade gate and
 * the session's channel cap). It answers with a Refusal value and knows nothing of HTTP.
 */
import { BacklogHeadroom } from './backlog-headroom.js';
import type { Store } from '../store/types.js';
import { MemoryBanList, RedisBanList, type Ban, type BanList, type BanReason } from './bans.js';
import type { GuardConfig, LimitWindow } from '../config/guard.js';
import { openCounters, type Counter, type CounterFactory } from './limiters.js';
import { PerSourceCap } from './per-source-cap.js';
import { SourceResolver, type Source } from './source.js';

export interface Refusal {
  /** Whole seconds for Retry-After (at least 1). */
  retryAfterSeconds: number;
  /** For the sender: which limit, never ids or addresses. */
  detail: string;
}

export interface SendTarget {
  uaid: string;
  channelId: string;
  /** SHA-256 of the VAPID key that signed the request, when one did. */
  senderKeyHash: Buffer | null;
}

export interface GuardEvents {
  banned?(reason: BanReason): void;
  limited?(limit: string): void;
  redisFailed?(error: Error): void;
}

export class Guard {
  private readonly sources: SourceResolver;
  private readonly counters: CounterFactory;
  private readonly bans: BanList;
  private readonly perSource: Counter | null;
  private readonly perSenderKey: Counter | null;
  private readonly perSubscription: Counter | null;
  private readonly perDevice: Counter | null;
  private readonly strikes: Record<BanReason, Counter | null>;
  /** Devices known to be far below their backlog caps, so most POSTs need no backlog query. */
  private readonly headroom: BacklogHeadroom;
  /** Open device sockets per source on this node; null when not capped. */
  private readonly sockets: PerSourceCap | null;
  /** Open TCP connections per peer on the public listeners; null when not capped. */
  private readonly tcpConnections: PerSourceCap | null;

  constructor(
    readonly config: GuardConfig,
    bus: { url: string; keyPrefix: string },
    private readonly events: GuardEvents = {},
    /** The clock of the in-memory windows and bans (tests move it); Redis times its own. */
    readonly now: () => number = Date.now,
  ) {
    this.sources = new SourceResolver(config);
    this.sockets = config.enabled && config.maxConnectionsPerSource > 0 ? new PerSourceCap(config.maxConnectionsPerSource) : null;
    this.tcpConnections = config.enabled && config.maxTcpConnectionsPerSource > 0 ? new PerSourceCap(config.maxTcpConnectionsPerSource) : null;
    this.headroom = new BacklogHeadroom({ maxMessages: config.maxStoredMessagesPerDevice, maxBytes: config.maxStoredBytesPerDevice });
    // Disabled: no Redis connection for counters nobody reads.
    this.counters = openCounters(config.enabled ? bus : { ...bus, url: 'local' }, (error) => events.redisFailed?.(error), now);
    this.bans = this.counters.redis ? new RedisBanList(this.counters.redis, this.counters.prefix, now) : new MemoryBanList(now);
    const counter = (name: string, window: { points: number; seconds: number }) =>
      config.enabled && window.points > 0 ? this.counters.counter(name, window.points, window.seconds) : null;
    this.perSource = counter('source', config.perSource);
    this.perSenderKey = counter('key', config.perSenderKey);
    this.perSubscription = counter('sub', config.perSubscription);
    this.perDevice = counter('device', config.perDevice);
    // A counter refuses the hit after `points`: N strikes ban at the Nth with points = N - 1.
    const { bans } = config;
    const strikes = (name: string, threshold: number) =>
      config.enabled && threshold > 0 ? this.counters.counter(name, threshold - 1, bans.windowSeconds) : null;
    this.strikes = {
      'invalid-signatures': strikes('strikes-sig', bans.invalidSignatures),
      'dead-endpoints': strikes('strikes-dead', bans.deadEndpoints),
    };
  }

  source(peer: string | undefined, forwardedFor?: string | string[]): Source {
    return this.sources.resolve(peer, forwardedFor);
  }

  /** A banned source is refused before anything else is looked at. */
  async banned(source: Source): Promise<Refusal | null> {
    if (!this.config.enabled || source.exempt) return null;
    const left = await this.bans.remaining(source.key);
    if (left === null) return null;
    return { retryAfterSeconds: seconds(left), detail: 'this source is refused for a while after repeated invalid requests' };
  }

  /** The rate limits, after the token and VAPID checks (so a limit is counted against a real target). */
  async limitSend(source: Source, target: SendTarget): Promise<Refusal | null> {
    if (!this.config.enabled) return null;
    const checks: Array<[string, Counter | null, string]> = [
      ['source', source.exempt ? null : this.perSource, source.key],
      ['sender key', target.senderKeyHash ? this.perSenderKey : null, target.senderKeyHash?.toString('base64url') ?? ''],
      // Ids in clear, as the Redis bus's presence keys already hold them: hashing cost 3 µs a key.
      ['subscription', this.perSubscription, `${target.uaid}:${target.channelId}`],
      ['device', this.perDevice, target.uaid],
    ];
    for (const [name, counter, key] of checks) {
      if (!counter) continue;
      const wait = await counter.hit(key);
      if (wait !== null) {
        this.events.limited?.(name);
        return { retryAfterSeconds: seconds(wait), detail: `too many messages per ${name}` };
      }
    }
    return null;
  }

  /** Only the per-source limit: for requests that name no subscription (key revocation). */
  async limitSource(source: Source): Promise<Refusal | null> {
    if (!this.config.enabled || source.exempt || !this.perSource) return null;
    const wait = await this.perSource.hit(source.key);
    if (wait === null) return null;
    this.events.limited?.('source');
    return { retryAfterSeconds: seconds(wait), detail: 'too many requests per source' };
  }

  /** The backlog caps, for a message about to be stored (TTL > 0). */
  async backlogFull(store: Store, uaid: string, now: number, payloadBytes: number): Promise<Refusal | null> {
    const { enabled, maxStoredMessagesPerDevice: maxMessages, maxStoredBytesPerDevice: maxBytes } = this.config;
    if (!enabled || (maxMessages === 0 && maxBytes === 0)) return null;
    if (this.headroom.roomWithoutAsking(uaid, now, payloadBytes)) return null;
    const backlog = await store.deviceBacklog(uaid, now);
    const full =
      (maxMessages > 0 && backlog.messages >= maxMessages) || (maxBytes > 0 && backlog.bytes + payloadBytes > maxBytes);
    if (!full) {
      this.headroom.remember(uaid, now, backlog, payloadBytes);
      return null;
    }
    this.events.limited?.('backlog');
    return {
      retryAfterSeconds: this.config.backlogRetryAfterSeconds,
      detail: "the device's backlog of undelivered messages is full; retry after it reconnects",
    };
  }

  /** Counts a failed request towards a ban for `reason` (the edge decides which failures are which). */
  async noteFailure(source: Source, reason: BanReason): Promise<void> {
    if (!this.config.enabled || source.exempt) return;
    const counter = this.strikes[reason];
    if (!counter || (await counter.hit(source.key)) === null) return;
    // Every strike past the threshold within the window renews the cool-down.
    await this.bans.ban(source.key, reason, this.config.bans.coolDownSeconds);
    this.events.banned?.(reason);
  }

  /** A device socket from this source may open: returns its release, or null when the cap is reached. */
  admitConnection(source: Source): (() => void) | null {
    if (!this.sockets || source.exempt) return () => {};
    return this.sockets.acquire(source.key);
  }

  /**
   * A TCP connection from this peer may open on a public listener (any HTTP request or WebSocket):
   * returns its release, or null when the peer holds too many. Trusted proxies carry many clients
   * and are not capped here (their clients are, per request, by the limits above).
   */
  admitTcpConnection(peer: string | undefined): (() => void) | null {
    if (!this.tcpConnections || this.sources.isTrustedProxy(peer)) return () => {};
    const source = this.sources.resolve(peer);
    if (source.exempt) return () => {};
    const release = this.tcpConnections.acquire(source.key);
    if (!release) this.events.limited?.('connections');
    return release;
  }

  /** What one device socket may send (src/push/protocol/frame-budget.ts); empty when off. */
  get frameBudget(): { frames?: LimitWindow; registrations?: LimitWindow } {
    if (!this.config.enabled) return {};
    return { frames: this.config.framesPerSocket, registrations: this.config.registrationsPerSocket };
  }

  /** 0 when registrations are not capped. */
  get maxChannelsPerDevice(): number {
    return this.config.enabled ? this.config.maxChannelsPerDevice : 0;
  }

  listBans(): Promise<Ban[]> {
    return this.bans.list();
  }

  /**
   * An operator ends a ban (`herald admin bans lift`): `source` is a source key as listed
   * (`4:203.0.113.7`, `6:2001:db8::/64`) or an address, which names its key. The source's strikes
   * start over too, so one more failure does not ban it again at once.
   */
  async liftBan(source: string): Promise<{ source: string; lifted: boolean }> {
    const key = /^[46]:/.test(source) ? source : this.sources.resolve(source).key;
    for (const counter of Object.values(this.strikes)) await counter?.forget(key);
    return { source: key, lifted: await this.bans.lift(key) };
  }

  close(): Promise<void> {
    return this.counters.close();
  }
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
