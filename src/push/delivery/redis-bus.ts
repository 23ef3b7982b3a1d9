/**
 * The bus for many nodes: Redis holds presence (which node holds which device) and carries
 * deliveries between nodes over pub/sub, one channel per node.
 *
 *   <prefix>:presence:<uaid>  = "<nodeId>.<claim>"  with a lease (PX); refreshed while the socket lives
 *   <prefix>:node:<nodeId>    = the channel a node listens on, for requests and answers alike
 *   <prefix>:nodes            = the roll call: each node and when it last refreshed (a sorted set)
 *
 * A claim value names the node and one claim on it, so that a late release or refresh for an old
 * socket never touches a newer claim (compare-and-delete/-expire in Lua). A node that dies stops
 * refreshing and its leases run out; until then, a PUBLISH to its channel reaches nobody and the
 * delivery answers false at once. Every message with a TTL is stored before it is delivered, so a
 * false only means "drained at the device's next hello" — or sooner (docs/operations.md):
 *
 * Redis down or slow. Every command answers within commandTimeoutMs or fails; after a failure the
 * bus asks Redis nothing (deliveries answer false at once) until a probe finds it answering. There
 * is no offline queue. A hand-off that failed is remembered (missed-handoffs.ts): once Redis is
 * back, the device's node is told to look at storage again. And when Redis is back, this node
 * re-announces the presence of its devices at once (claims made meanwhile first), then has every
 * session here look at storage again, so a message stored while presence was missing (a restarted
 * Redis forgets it all) reaches its connected device within seconds.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisHealth, requestPathOptions, type DependencyState } from '../../redis/health.js';
import type { LiveMessage } from '../protocol/session.js';
import type { Bus, LocalDevices } from './bus.js';
import { MissedHandoffs } from './missed-handoffs.js';
import { decodeFrame, encodeFrame, SenderKeyCodec, type NodeFrame } from './redis-frames.js';
import { ownerOf, Presence } from './redis-presence.js';
import { chunks, drop, HANDOFF, quit, runScript, SCRIPTS, withTimeout } from './redis-scripts.js';

export type RedisBusActivity = 'connection' | 'claim' | 'release' | 'refresh' | 'deliver' | 'answer' | 'recheck' | 'close';

/** Why a stored message's hand-off was left to storage (not counted: a device that is not connected). */
export type FallbackReason = 'redis-down' | 'no-answer' | 'node-gone';

export interface RedisBusEvents {
  /** A stored message for a device on another node was left to storage: the bus could not carry it. */
  fellBack?(reason: FallbackReason): void;
  /** Redis stopped answering: deliveries to other nodes are left to storage until it is back. */
  down?(cause: unknown): void;
  /** Redis answers again after `downForMs`: presence of `devices` re-announced, their storage re-checked. */
  back?(downForMs: number, devices: number): void;
  /** A peer node stopped refreshing its presence `silentForMs` ago: its devices' leases have lapsed. */
  peerLapsed?(nodeId: string, silentForMs: number): void;
}

export interface RedisBusOptions {
  /** redis://[user:password@]host:port[/db] or rediss://… */
  url: string;
  /** The live sessions of this node. */
  devices: LocalDevices;
  /** Prefix of every key and channel (default "herald"); several deployments can share one Redis. */
  keyPrefix?: string;
  /** How long presence outlives a node that stopped refreshing it (default 30 s). */
  presenceLeaseMs?: number;
  /** Default: a third of the lease, so one missed refresh does not drop a live device. */
  refreshIntervalMs?: number;
  /** How long a delivery waits for the device's node to answer before leaving it to storage (default 500 ms). */
  deliveryTimeoutMs?: number;
  /** Every Redis command answers within this or fails (default 250 ms). */
  commandTimeoutMs?: number;
  /** How often a missed hand-off is tried again, and Redis probed (default 500 ms). */
  retryIntervalMs?: number;
  /** Default: 16 random hex characters, new at every start. */
  nodeId?: string;
  /** Redis errors; the bus carries on (deliveries answer false, presence catches up when Redis is back). */
  onError?(error: unknown, during: RedisBusActivity): void;
  events?: RedisBusEvents;
}

export interface RedisBusCloseOptions {
  /**
   * Delete this node's presence keys (default). false leaves them to expire, as a crashed node
   * does (tests).
   */
  release?: boolean;
}

/** Device ids of missed hand-offs kept at most (about 100 bytes each). */
const MAX_MISSED = 100_000;

type Phase = 'new' | 'running' | 'closed';
type Route = 'sent' | 'absent' | 'nobody-listens';

export class RedisBus implements Bus {
  readonly nodeId: string;
  private readonly devices: LocalDevices;
  private readonly prefix: string;
  private readonly refreshIntervalMs: number;
  private readonly deliveryTimeoutMs: number;
  private readonly retryIntervalMs: number;
  private readonly report: (error: unknown, during: RedisBusActivity) => void;
  private readonly events: RedisBusEvents;
  /** Commands, scripts and PUBLISH. */
  private readonly commands: Redis;
  /** A connection in subscriber mode can run nothing else. */
  private readonly subscriber: Redis;
  private readonly health: RedisHealth;
  private readonly presence: Presence;
  private readonly missed: MissedHandoffs;
  private readonly url: string;

  private phase: Phase = 'new';
  private subscribed = false;
  private requests = 0;
  /** Deliveries waiting for the device's node to answer, by request id. */
  private readonly waiting = new Map<string, (ok: boolean) => void>();
  /** Sender key hashes of deliveries, to and from the wire without a conversion per message. */
  private readonly senderKeys = new SenderKeyCodec();
  private readonly timers: NodeJS.Timeout[] = [];
  private retrying = false;
  private startError: unknown;

  constructor(options: RedisBusOptions) {
    this.url = options.url;
    this.devices = options.devices;
    this.nodeId = options.nodeId ?? randomBytes(8).toString('hex');
    if (!/^[A-Za-z0-9_-]+$/.test(this.nodeId)) throw new Error('a node id is letters, digits, "_" and "-" only');
    this.prefix = options.keyPrefix ?? 'herald';
    const leaseMs = options.presenceLeaseMs ?? 30_000;
    this.refreshIntervalMs = options.refreshIntervalMs ?? Math.max(50, Math.floor(leaseMs / 3));
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 500;
    this.retryIntervalMs = options.retryIntervalMs ?? 500;
    this.report = options.onError ?? (() => {});
    this.events = options.events ?? {};
    this.missed = new MissedHandoffs(MAX_MISSED, leaseMs * 2);
    // lazyConnect: start() connects, so a Redis that is down fails the start instead of queueing.
    const connection = { ...requestPathOptions(options.commandTimeoutMs ?? 250), lazyConnect: true, connectionName: `herald-${this.nodeId}` };
    this.commands = new Redis(options.url, connection);
    this.subscriber = new Redis(options.url, connection);
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', (error: unknown) => {
        // Before start() succeeds, the first error is what start() throws.
        if (this.phase === 'running') this.report(error, 'connection');
        else this.startError ??= error;
      });
    }
    this.health = new RedisHealth(
      this.commands,
      { probe: () => this.probe(), intervalMs: this.retryIntervalMs },
      { down: (cause) => this.events.down?.(cause), up: (downForMs) => void this.recover(downForMs) },
    );
    this.presence = new Presence({
      commands: this.commands,
      health: this.health,
      nodeId: this.nodeId,
      prefix: this.prefix,
      leaseMs,
      active: () => this.phase === 'running',
      publish: (node, frame) => this.publish(node, frame),
      lost: (uaid) => this.devices.closeReplaced(uaid),
      report: this.report,
      ...(this.events.peerLapsed ? { peerLapsed: this.events.peerLapsed } : {}),
    });
    this.subscriber.on('close', () => {
      this.subscribed = false;
      this.health.failed(new Error('the subscriber connection to Redis closed'));
    });
    this.subscriber.on('message', (_channel: string, text: string) => this.receive(text));
  }

  get description(): string {
    return `${maskCredentials(this.url)} (node ${this.nodeId})`;
  }

  get state(): DependencyState {
    return this.phase === 'running' ? this.health.state : 'down';
  }

  /** Number of devices this node holds presence for (tests and metrics). */
  get presenceCount(): number {
    return this.presence.size;
  }

  /** Hand-offs that failed and whose device's node has not been told yet (tests and metrics). */
  get missedHandoffs(): number {
    return this.missed.size;
  }

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error('a RedisBus starts once');
    try {
      await Promise.all([this.commands.connect(), this.subscriber.connect()]);
      await this.subscriber.subscribe(this.nodeChannel(this.nodeId));
      this.subscribed = true;
      await this.loadScripts();
    } catch (error) {
      this.commands.disconnect();
      this.subscriber.disconnect();
      this.phase = 'closed';
      const cause = this.startError ?? error;
      throw new Error(`the Redis bus cannot reach ${maskCredentials(this.url)}: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    // A Redis restart forgets loaded scripts; EVALSHA falls back to EVAL meanwhile.
    this.commands.on('ready', () => void this.loadScripts().catch((error: unknown) => this.report(error, 'connection')));
    this.subscriber.on('ready', () => void this.health.check());
    this.phase = 'running';
    this.health.start({ up: true });
    this.every(this.refreshIntervalMs, () => void this.presence.refresh());
    this.every(this.retryIntervalMs, () => void this.retryMissed());
  }

  claimed(uaid: string): void {
    if (this.phase === 'running') this.presence.claimed(uaid);
  }

  released(uaid: string): void {
    if (this.phase === 'running') this.presence.released(uaid);
  }

  async deliver(uaid: string, live: LiveMessage): Promise<boolean> {
    if (this.devices.deliverLocal(uaid, live)) return true;
    if (this.phase !== 'running') return false;
    if (!this.health.up) return this.fellBack(uaid, live, 'redis-down');
    const requestId = (++this.requests).toString(36);
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean) => {
        if (!this.waiting.delete(requestId)) return;
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(this.fellBack(uaid, live, 'no-answer')), this.deliveryTimeoutMs);
      this.waiting.set(requestId, finish);
      void this.routeToOwner(uaid, live, requestId)
        .then((route) => {
          if (route === 'absent') finish(false);
          // Its node is gone (its lease has not run out) or subscribing again after an outage.
          else if (route === 'nobody-listens') finish(this.fellBack(uaid, live, 'node-gone'));
        })
        .catch((error: unknown) => {
          this.health.failed(error);
          this.report(error, 'deliver');
          finish(this.fellBack(uaid, live, 'redis-down'));
        });
    });
  }

  /** Resolves once every presence write issued so far has been answered by Redis (tests). */
  flush(): Promise<void> {
    return this.presence.flush();
  }

  async close(options: RedisBusCloseOptions = {}): Promise<void> {
    if (this.phase === 'closed') return;
    const wasRunning = this.phase === 'running';
    this.phase = 'closed';
    for (const timer of this.timers) clearInterval(timer);
    this.health.stop();
    for (const finish of [...this.waiting.values()]) finish(false);
    // Redis unreachable right now: its leases run out instead of waiting for it here.
    if (!wasRunning || options.release === false || this.commands.status !== 'ready' || !this.health.up) {
      this.commands.disconnect();
      // Redis answering: once close() resolves it has let go of this node's channel, so a hand-off
      // to this node reaches nobody and answers at once (the hand-off is one round trip: it would
      // otherwise race Redis reading this socket's end).
      if (wasRunning && this.health.up) await drop(this.subscriber);
      else this.subscriber.disconnect();
      return;
    }
    const releasing = (async () => {
      await this.subscriber.unsubscribe();
      await this.presence.releaseAll();
    })().catch((error: unknown) => this.report(error, 'close'));
    await withTimeout(releasing);
    await Promise.all([quit(this.commands), quit(this.subscriber)]);
  }

  /** The hand-off did not happen: remember the device, so its node looks at storage once Redis allows. */
  private fellBack(uaid: string, live: LiveMessage, reason: FallbackReason): false {
    if (!live.stored) return false;
    this.missed.add(uaid);
    this.events.fellBack?.(reason);
    return false;
  }

  /**
   * Presence and PUBLISH in one round trip (HANDOFF): the frame names no owner, so it is built
   * before the owner is known. A device connected nowhere costs its frame's bytes to Redis too.
   */
  private async routeToOwner(uaid: string, live: LiveMessage, requestId: string): Promise<Route> {
    const frame = encodeFrame({ type: 'deliver', requestId, replyTo: this.nodeId, uaid, live }, this.senderKeys);
    const receivers = await runScript(this.commands, HANDOFF, [this.presence.key(uaid)], [this.nodeId, this.nodeChannel(''), frame]);
    // -1: no other node's claim; one naming this node without a local session is a socket that just closed.
    if (typeof receivers !== 'number' || receivers < 0) return 'absent';
    return receivers > 0 ? 'sent' : 'nobody-listens';
  }

  private receive(text: string): void {
    const frame = decodeFrame(text, this.senderKeys);
    if (frame === null || this.phase === 'closed') return;
    switch (frame.type) {
      case 'deliver': {
        const ok = this.devices.deliverLocal(frame.uaid, frame.live);
        this.publish(frame.replyTo, { type: 'answer', requestId: frame.requestId, ok }).catch((error: unknown) =>
          this.report(error, 'answer'),
        );
        return;
      }
      case 'answer':
        this.waiting.get(frame.requestId)?.(frame.ok);
        return;
      case 'replace':
        // Another node claimed the device over this node's claim: its socket here is the older one.
        if (this.presence.replaced(frame.uaid, frame.claim)) this.devices.closeReplaced(frame.uaid);
        return;
      case 'check':
        this.devices.recheck(frame.uaid);
        return;
    }
  }

  /** Redis answers, and this node listens on its channel again. */
  private async probe(): Promise<void> {
    await this.commands.ping();
    if (this.subscribed || this.phase !== 'running') return;
    await this.subscriber.subscribe(this.nodeChannel(this.nodeId));
    this.subscribed = true;
  }

  /**
   * Redis is back: presence is re-announced (a restarted Redis has none), then every session here
   * looks at storage, and the nodes of the missed hand-offs are told.
   */
  private async recover(downForMs: number): Promise<void> {
    if (this.phase !== 'running') return;
    await this.presence.reannounce();
    if (!this.health.up || this.phase !== 'running') return;
    this.devices.recheckAll();
    void this.retryMissed();
    this.events.back?.(downForMs, this.presence.size);
  }

  /** Tells the node of each device a hand-off missed to look at storage (this node's own sessions directly). */
  private async retryMissed(): Promise<void> {
    if (this.retrying || this.phase !== 'running' || !this.health.up || this.missed.size === 0) return;
    this.retrying = true;
    try {
      for (const batch of chunks(this.missed.list(), 100)) {
        const claims = await this.commands.mget(...batch.map((uaid) => this.presence.key(uaid)));
        await Promise.all(
          batch.map(async (uaid, i) => {
            const claim = claims[i];
            const owner = claim ? ownerOf(claim) : null;
            // Connected nowhere: it drains at its next hello.
            if (owner === null) return this.missed.done(uaid);
            if (owner === this.nodeId) {
              this.devices.recheck(uaid);
              return this.missed.done(uaid);
            }
            if ((await this.publish(owner, { type: 'check', uaid })) > 0) this.missed.done(uaid);
          }),
        );
      }
    } catch (error) {
      this.health.failed(error);
      this.report(error, 'recheck');
    } finally {
      this.retrying = false;
    }
  }

  private every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private publish(node: string, frame: NodeFrame): Promise<number> {
    return this.commands.publish(this.nodeChannel(node), encodeFrame(frame, this.senderKeys));
  }

  private async loadScripts(): Promise<void> {
    await Promise.all(SCRIPTS.map((lua) => this.commands.script('LOAD', lua.source)));
  }

  private nodeChannel(node: string): string {
    return `${this.prefix}:node:${node}`;
  }
}

/** The url as logs may show it: user and password replaced by ***. */
export function maskCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return parsed.toString();
    parsed.username = '***';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'redis://(unparsable url)';
  }
}
