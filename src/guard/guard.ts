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
import { KeyedLock } from './keyed-lock.js';
import { NetworkAllowlist, type AllowedNetworks, type ListenerName } from './allowlist.js';
import type { DependencyState } from '../redis/health.js';
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

/** Per-source limits of requests that name no subscription. */
export type RequestLimit = 'source' | 'revocations' | 'tokens' | 'enrollments';

export interface GuardEvents {
  banned?(reason: BanReason): void;
  limited?(limit: string): void;
  /** An error of the guard's Redis connection (ioredis' error event: refused, reset, …). */
  redisFailed?(error: Error): void;
  /** Redis stopped answering: limits count per node, bans are neither checked nor recorded. */
  redisDown?(cause: unknown): void;
  /** Redis answers again after `downForMs`: limits are shared again. */
  redisBack?(downForMs: number): void;
  /**
   * A request carried X-Forwarded-For from a peer not in trustedProxies: the header is ignored,
   * so every client behind that proxy shares its address (exempt, if it is loopback).
   */
  untrustedForwarded?(): void;
  /** A client outside a listener's server.allowedNetworks was refused (403 / upgrade refused). */
  networkRefused?(listener: ListenerName): void;
}

export class Guard {
  private readonly sources: SourceResolver;
  private readonly counters: CounterFactory;
  private readonly bans: BanList;
  private readonly perSource: Counter | null;
  private readonly requestLimits: Record<RequestLimit, Counter | null>;
  private readonly perSenderKey: Counter | null;
  private readonly perSubscription: Counter | null;
  private readonly perDevice: Counter | null;
  private readonly strikes: Record<BanReason, Counter | null>;
  /** Devices known to be far below their backlog caps, so most POSTs need no backlog query. */
  private readonly headroom: BacklogHeadroom;
  /** Near a backlog cap, one check-and-store at a time per device. */
  private readonly backlogLock = new KeyedLock();
  /** Stored messages one subscription may hold (Infinity: no cap). */
  private readonly perSubscriptionBacklog: number;
  /** Open device sockets per source on this node; null when not capped. */
  private readonly sockets: PerSourceCap | null;
  /** Open TCP connections per peer on the public listeners; null when not capped. */
  private readonly tcpConnections: PerSourceCap | null;
  /** server.allowedNetworks; applied whether or not the rest of the guard is enabled. */
  private readonly allowlists: Record<ListenerName, NetworkAllowlist>;

  constructor(
    readonly config: GuardConfig,
    bus: { url: string; keyPrefix: string; commandTimeoutMs?: number },
    private readonly events: GuardEvents = {},
    /** The clock of the in-memory windows and bans (tests move it); Redis times its own. */
    readonly now: () => number = Date.now,
    /**
     * push.msgLimit: a drain past it resets the device, so no subscription may hold more (one
     * sender's backlog must not end the device's other subscriptions).
     */
    msgLimit = Number.POSITIVE_INFINITY,
    allowedNetworks: AllowedNetworks = { devices: [], endpoint: [], admin: [] },
  ) {
    this.allowlists = {
      devices: new NetworkAllowlist(allowedNetworks.devices),
      endpoint: new NetworkAllowlist(allowedNetworks.endpoint),
      admin: new NetworkAllowlist(allowedNetworks.admin),
    };
    const configured = config.maxStoredMessagesPerSubscription;
    this.perSubscriptionBacklog = Math.min(configured === 0 ? Number.POSITIVE_INFINITY : configured, msgLimit);
    this.sources = new SourceResolver(config);
    this.sockets = config.enabled && config.maxConnectionsPerSource > 0 ? new PerSourceCap(config.maxConnectionsPerSource) : null;
    this.tcpConnections = config.enabled && config.maxTcpConnectionsPerSource > 0 ? new PerSourceCap(config.maxTcpConnectionsPerSource) : null;
    // Far below the smaller of the two message caps, neither needs asking (a subscription holds
    // at most what its device holds).
    const perSubscription = Number.isFinite(this.perSubscriptionBacklog) ? this.perSubscriptionBacklog : 0;
    this.headroom = new BacklogHeadroom({ maxMessages: smallerCap(config.maxStoredMessagesPerDevice, perSubscription), maxBytes: config.maxStoredBytesPerDevice });
    // Disabled: no Redis connection for counters nobody reads.
    this.counters = openCounters(
      config.enabled ? bus : { ...bus, url: 'local' },
      { error: (error) => events.redisFailed?.(error), down: (cause) => events.redisDown?.(cause), up: (downForMs) => events.redisBack?.(downForMs) },
      now,
    );
    const { redis, health } = this.counters;
    this.bans = redis && health ? new RedisBanList(redis, this.counters.prefix, now, health) : new MemoryBanList(now);
    const counter = (name: string, window: { points: number; seconds: number }) =>
      config.enabled && window.points > 0 ? this.counters.counter(name, window.points, window.seconds) : null;
    this.perSource = counter('source', config.perSource);
    this.perSenderKey = counter('key', config.perSenderKey);
    this.perSubscription = counter('sub', config.perSubscription);
    this.perDevice = counter('device', config.perDevice);
    this.requestLimits = {
      source: this.perSource,
      revocations: counter('revocations', config.revocationsPerSource),
      tokens: counter('tokens', config.tokenRequestsPerSource),
      enrollments: counter('enrollments', config.enrollmentsPerSource),
    };
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
    if (forwardedFor !== undefined && this.config.enabled && this.events.untrustedForwarded && !this.sources.isTrustedProxy(peer)) {
      this.events.untrustedForwarded();
    }
    return this.sources.resolve(peer, forwardedFor);
  }

  /** The peer is one of guard.trustedProxies (whose forwarded headers are believed). */
  isTrustedProxy(peer: string | undefined): boolean {
    return this.sources.isTrustedProxy(peer);
  }

  /** Whether the listener has an allowlist at all (an open one needs no per-request check). */
  restrictsNetworks(listener: ListenerName): boolean {
    return !this.allowlists[listener].open;
  }

  /**
   * The client (the peer, or the address trusted proxies forwarded; X-Forwarded-For from anyone
   * else is ignored) is inside the listener's allowed networks. A refusal is counted.
   */
  admitsNetwork(listener: ListenerName, peer: string | undefined, forwardedFor?: string | string[]): boolean {
    const list = this.allowlists[listener];
    if (list.open || list.allows(this.sources.clientAddress(peer, forwardedFor))) return true;
    this.events.networkRefused?.(listener);
    return false;
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

  /**
   * One per-source limit, for requests that name no subscription: `source` (message status and
   * deletion), `revocations` (POST /v1/keys/revoke), `tokens` (the token server).
   */
  async limitRequests(source: Source, limit: RequestLimit): Promise<Refusal | null> {
    const counter = this.requestLimits[limit];
    if (!this.config.enabled || source.exempt || !counter) return null;
    const wait = await counter.hit(source.key);
    if (wait === null) return null;
    this.events.limited?.(limit);
    return { retryAfterSeconds: seconds(wait), detail: limit === 'revocations' ? 'too many key revocations per source' : 'too many requests per source' };
  }

  /**
   * The backlog caps, for a message about to be stored (TTL > 0): the device's messages and bytes,
   * and the subscription's messages, which never exceed push.msgLimit so that no one sender's
   * backlog can make the device's next drain reset it (and end its other subscriptions).
   * Admitted, it returns `release`, to call once the message is stored (or failed to be): near
   * a cap, the device's POSTs on this node are checked and stored one at a time.
   */
  async reserveBacklog(store: Store, target: { uaid: string; channelId: string }, now: number, payloadBytes: number): Promise<{ refusal: Refusal } | { release: () => void }> {
    const { enabled, maxStoredMessagesPerDevice: maxMessages, maxStoredBytesPerDevice: maxBytes } = this.config;
    const perSubscription = this.perSubscriptionBacklog;
    const admitted = { release: () => {} };
    if (!enabled || (maxMessages === 0 && maxBytes === 0 && !Number.isFinite(perSubscription))) return admitted;
    const { uaid } = target;
    if (this.headroom.roomWithoutAsking(uaid, now, payloadBytes)) return admitted;
    const release = await this.backlogLock.acquire(uaid);
    try {
      const backlog = await store.deviceBacklog(uaid, now);
      const full =
        (maxMessages > 0 && backlog.messages >= maxMessages) || (maxBytes > 0 && backlog.bytes + payloadBytes > maxBytes);
      if (full) {
        release();
        return { refusal: this.backlogRefusal("the device's backlog of undelivered messages is full; retry after it reconnects") };
      }
      // Only a device holding that many at all can hold that many for one subscription.
      if (backlog.messages >= perSubscription && (await store.countChannelMessages(uaid, target.channelId, now)) >= perSubscription) {
        release();
        return { refusal: this.backlogRefusal("this subscription's backlog of undelivered messages is full; retry after the device reconnects") };
      }
      this.headroom.remember(uaid, now, backlog, payloadBytes);
      return { release };
    } catch (error) {
      release();
      throw error;
    }
  }

  private backlogRefusal(detail: string): Refusal {
    this.events.limited?.('backlog');
    return { retryAfterSeconds: this.config.backlogRetryAfterSeconds, detail };
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

  /** For /__heartbeat__: "local" on one node, "down" while limits count per node because Redis does not answer. */
  get redisState(): DependencyState {
    return this.config.enabled ? this.counters.state : 'local';
  }

  close(): Promise<void> {
    return this.counters.close();
  }
}

/** The smaller of two caps where 0 means none. */
function smallerCap(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
