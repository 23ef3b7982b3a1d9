/**
 * The guard: rate limits, abuse bans and caps, decided here and applied by the edges that call it
 * (the sender endpoint through endpoint-guard.ts, the device socket through its upgrade gate and
 * the session's channel cap). It answers with a Refusal value and knows nothing of HTTP.
 */
import { BacklogHeadroom } from './backlog-headroom.js';
import type { Store } from '../store/types.js';
import type { Ban, BanReason } from './bans.js';
import type { GuardConfig, LimitWindow } from '../config/guard.js';
import { buildCounterSet, type CounterSet, type RequestLimit, type SendTarget } from './counter-set.js';
import { MemoryCounters } from './limiters.js';
import { KeyedLock } from './keyed-lock.js';
import { NetworkAllowlist, type AllowedNetworks, type ListenerName } from './allowlist.js';
import type { DependencyState } from '../redis/health.js';
import { PerSourceCap } from './per-source-cap.js';
import { SourceResolver, type Source } from './source.js';

export type { RequestLimit, SendTarget } from './counter-set.js';

/** A value now, or a promise of it: in-memory checks answer at once, Redis ones later. */
export type MaybePromise<T> = T | Promise<T>;

export interface Refusal {
  /** Whole seconds for Retry-After (at least 1). */
  retryAfterSeconds: number;
  /** For the sender: which limit, never ids or addresses. */
  detail: string;
}

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
  /** This node's own counters until start(); Redis' from then on when the bus is Redis. */
  private counters: CounterSet;
  /** The Redis bus the counters move to at start; null: they stay in memory. */
  private readonly sharedBus: { url: string; keyPrefix: string; commandTimeoutMs?: number } | null;
  /** Devices known to be far below their backlog caps, so most POSTs need no backlog query. */
  private readonly headroom: BacklogHeadroom;
  /** Near a backlog cap, one check-and-store at a time per device. */
  private readonly backlogLock = new KeyedLock();
  /** Stored messages one subscription may hold (Infinity: no cap). */
  private readonly perSubscriptionBacklog: number;
  /** Any backlog cap at all (enabled, and one of the three set): else reserveBacklog has nothing to check. */
  private readonly capsBacklog: boolean;
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
    this.capsBacklog =
      config.enabled && (config.maxStoredMessagesPerDevice > 0 || config.maxStoredBytesPerDevice > 0 || Number.isFinite(this.perSubscriptionBacklog));
    this.sources = new SourceResolver(config);
    this.sockets = config.enabled && config.maxConnectionsPerSource > 0 ? new PerSourceCap(config.maxConnectionsPerSource) : null;
    this.tcpConnections = config.enabled && config.maxTcpConnectionsPerSource > 0 ? new PerSourceCap(config.maxTcpConnectionsPerSource) : null;
    // Far below the smaller of the two message caps, neither needs asking (a subscription holds
    // at most what its device holds).
    const perSubscription = Number.isFinite(this.perSubscriptionBacklog) ? this.perSubscriptionBacklog : 0;
    // On a local bus this process is the only one storing messages (bus.url "local" is one
    // process), so kept figures only ever over-count and need no expiry: storage is asked again
    // at half a cap. With other nodes, their messages are unseen: trust the figures a second.
    const caps = { maxMessages: smallerCap(config.maxStoredMessagesPerDevice, perSubscription), maxBytes: config.maxStoredBytesPerDevice };
    this.headroom = new BacklogHeadroom(caps, bus.url === 'local' ? Number.POSITIVE_INFINITY : 1000);
    this.counters = buildCounterSet(config, new MemoryCounters(`${bus.keyPrefix}:guard`, now), now);
    // Disabled: no Redis connection for counters nobody reads.
    this.sharedBus = config.enabled && bus.url !== 'local' ? bus : null;
  }

  /**
   * On a Redis bus, moves the counters and bans to Redis (every node then counts in the same
   * windows). Before it, the guard counts on this node alone, as it does while Redis is down.
   */
  async start(): Promise<void> {
    if (!this.sharedBus) return;
    // Loaded only when named: ioredis is a large part of a cold start that does not use it.
    const { openRedisCounters } = await import('./redis-counters.js');
    const { events } = this;
    const factory = openRedisCounters(this.sharedBus, {
      error: (error) => events.redisFailed?.(error),
      down: (cause) => events.redisDown?.(cause),
      up: (downForMs) => events.redisBack?.(downForMs),
    });
    this.counters = buildCounterSet(this.config, factory, this.now);
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

  /** A banned source is refused before anything else is looked at. In memory: at once, no promise. */
  banned(source: Source): MaybePromise<Refusal | null> {
    if (!this.config.enabled || source.exempt) return null;
    const left = this.counters.bans.remaining(source.key);
    return left instanceof Promise ? left.then(banRefusal) : banRefusal(left);
  }

  /**
   * The rate limits, after the token and VAPID checks (so a limit is counted against a real
   * target). Each is counted only when the ones before it let the message through. In memory the
   * answer comes at once: every POST of a burst is counted before the next is looked at.
   */
  limitSend(source: Source, target: SendTarget): MaybePromise<Refusal | null> {
    return this.config.enabled ? this.limitSendFrom(0, source, target) : null;
  }

  private limitSendFrom(first: number, source: Source, target: SendTarget): MaybePromise<Refusal | null> {
    const limits = this.counters.send;
    for (let i = first; i < limits.length; i++) {
      const limit = limits[i] as (typeof limits)[number];
      const key = limit.keyOf(source, target);
      if (key === null) continue;
      const wait = limit.counter.hit(key);
      // Redis answers later: the remaining limits are checked once it has.
      if (wait instanceof Promise) return wait.then((ms) => (ms === null ? this.limitSendFrom(i + 1, source, target) : this.sendRefusal(limit.name, ms)));
      if (wait !== null) return this.sendRefusal(limit.name, wait);
    }
    return null;
  }

  private sendRefusal(name: string, waitMs: number): Refusal {
    this.events.limited?.(name);
    return { retryAfterSeconds: seconds(waitMs), detail: `too many messages per ${name}` };
  }

  /**
   * One per-source limit, for requests that name no subscription: `source` (message status and
   * deletion), `revocations` (POST /v1/keys/revoke), `tokens` (the token server).
   */
  async limitRequests(source: Source, limit: RequestLimit): Promise<Refusal | null> {
    const counter = this.counters.requests[limit];
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
   * a cap, the device's POSTs on this node are checked and stored one at a time. Far below the
   * caps it answers at once, without storage.
   */
  reserveBacklog(store: Store, target: { uaid: string; channelId: string }, now: number, payloadBytes: number): MaybePromise<BacklogReservation> {
    if (!this.capsBacklog || this.headroom.roomWithoutAsking(target.uaid, now, payloadBytes)) return ADMITTED;
    return this.reserveNearCap(store, target, now, payloadBytes);
  }

  private async reserveNearCap(store: Store, target: { uaid: string; channelId: string }, now: number, payloadBytes: number): Promise<BacklogReservation> {
    const { maxStoredMessagesPerDevice: maxMessages, maxStoredBytesPerDevice: maxBytes } = this.config;
    const perSubscription = this.perSubscriptionBacklog;
    const { uaid } = target;
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
    const counter = this.counters.strikes[reason];
    if (!counter || (await counter.hit(source.key)) === null) return;
    // Every strike past the threshold within the window renews the cool-down.
    await this.counters.bans.ban(source.key, reason, this.config.bans.coolDownSeconds);
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
    return this.counters.bans.list();
  }

  /**
   * An operator ends a ban (`herald admin bans lift`): `source` is a source key as listed
   * (`4:203.0.113.7`, `6:2001:db8::/64`) or an address, which names its key. The source's strikes
   * start over too, so one more failure does not ban it again at once.
   */
  async liftBan(source: string): Promise<{ source: string; lifted: boolean }> {
    const key = /^[46]:/.test(source) ? source : this.sources.resolve(source).key;
    for (const counter of Object.values(this.counters.strikes)) await counter?.forget(key);
    return { source: key, lifted: await this.counters.bans.lift(key) };
  }

  /** For /__heartbeat__: "local" on one node, "down" while limits count per node because Redis does not answer. */
  get redisState(): DependencyState {
    return this.config.enabled ? this.counters.factory.state : 'local';
  }

  close(): Promise<void> {
    return this.counters.factory.close();
  }
}

/** The smaller of two caps where 0 means none. */
function smallerCap(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

export type BacklogReservation = { refusal: Refusal } | { release: () => void };

/** Far below the caps: admitted, with nothing to release (one shared answer, no allocation per POST). */
const ADMITTED: BacklogReservation = Object.freeze({ release: () => {} });

function banRefusal(leftMs: number | null): Refusal | null {
  if (leftMs === null) return null;
  return { retryAfterSeconds: seconds(leftMs), detail: 'this source is refused for a while after repeated invalid requests' };
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
