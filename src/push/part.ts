/**
 * The push part: the sender endpoint (POST /wpush/…, /m/…, /v1/keys/revoke), the bus that carries
 * accepted messages to the node holding the device, the device WebSocket and the expiry sweep.
 *
 * It is two parts in the start order: `push` itself (bus, routes, sweep) comes before the
 * listeners, `push.sockets` after them, so that on stop the device sockets close (1001) before the
 * listeners stop and the bus closes after every in-flight request has finished.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { HeraldConfig } from '../config/schema.js';
import type { KeyRing } from '../crypto/keyring.js';
import { newChannelId, newUaid } from '../crypto/tokens.js';
import { senderGuard } from '../guard/endpoint-guard.js';
import type { Guard } from '../guard/guard.js';
import type { HttpListeners, Part } from '../server/part.js';
import type { Store } from '../store/types.js';
import { registerPushAdminRoutes } from './admin-routes.js';
import { SessionRegistry } from './connection/registry.js';
import { SocketServer, type SocketServerEvents } from './connection/socket-server.js';
import type { Bus } from './delivery/bus.js';
import { openBus } from './delivery/open-bus.js';
import type { RedisBusActivity, RedisBusEvents } from './delivery/redis-bus.js';
import type { DependencyState } from '../redis/health.js';
import { Sweeper, type SweepResult, type SweeperOptions } from './delivery/sweeper.js';
import { DeviceAuthenticator } from './device-auth/device-auth.js';
import { registerEndpointRoutes, type EndpointObserver } from './endpoint/routes.js';
import type { EndpointUrls } from './endpoint/urls.js';
import { VapidChecker } from './endpoint/vapid-check.js';
import type { SessionObserver } from './protocol/session.js';
import type { AttestationHook } from './protocol/hooks.js';
import { SenderBlocklist } from './revocation/blocklist.js';
import { withWakeup } from './wakeup/bus.js';
import type { WakeupService } from './wakeup/service.js';

export interface PushPartDeps {
  config: HeraldConfig;
  storage: () => Store;
  guard: Guard;
  wakeup: () => WakeupService;
  urls: EndpointUrls;
  /** Opens the endpoint tokens that `urls` seals. */
  endpointTokens: KeyRing;
  messageIds: KeyRing;
  /** push.deviceAuth = "token": verifies the token a hello carries. */
  deviceAuth: DeviceAuthenticator | null;
  /** devices.attestation on the device listener: judges the `attestation` of every hello. */
  attestation?: AttestationHook | null;
  now: () => number;
  logger: Logger;
  observe: {
    endpoint: EndpointObserver;
    session: SessionObserver;
    connections: SocketServerEvents;
    sweep: (result: SweepResult | Error) => void;
    /** Each sweep's expired messages of key-bound channels, per sender key (per-app stats). */
    expired?: SweeperOptions['expired'];
    busFailed: (error: unknown, during: RedisBusActivity) => void;
    bus?: RedisBusEvents;
  };
  /**
   * Mutual TLS on the device listener: whether an upgrade's client certificate admits it, and the
   * owner its device is bound to (undefined: mutual TLS is off there).
   */
  upgradeOwner?: (request: IncomingMessage) => Promise<{ ok: true; owner: string | null | undefined } | { ok: false }>;
  /** False under `herald serve --only …` without push: storage and bus open, no routes or sockets. */
  serve: boolean;
}

export class PushPart implements Part {
  readonly name = 'push';
  /** This node's live device sessions, by uaid. */
  readonly registry = new SessionRegistry();
  readonly sockets: Part;
  private bus: Bus | undefined;
  private senderBlocklist: SenderBlocklist | undefined;
  private sweeper: Sweeper | undefined;
  private socketServer: SocketServer | undefined;

  constructor(private readonly deps: PushPartDeps) {
    this.sockets = {
      name: 'push.sockets',
      register: async (http) => this.attachSockets(http),
      stop: async () => this.socketServer?.close(),
    };
  }

  /** How the startup line names the bus. */
  get busDescription(): string {
    return this.bus?.description ?? 'not started';
  }

  /** The sender key blocklist the endpoint and the sockets check (the console revokes through it). */
  get blocklist(): SenderBlocklist {
    const { config, storage, now } = this.deps;
    return (this.senderBlocklist ??= new SenderBlocklist(storage(), {
      ttlMs: config.push.senderBlocklistCacheSeconds * 1000,
      maxEntries: 10_000,
      now,
    }));
  }

  /** For /__heartbeat__: "local" on one node, "down" while Redis does not answer. */
  get busState(): DependencyState {
    return this.bus?.state ?? 'down';
  }

  /** Runs one expiry and idle sweep now (tests, `herald admin`); the timer runs them periodically. */
  sweep(): Promise<SweepResult> {
    if (!this.sweeper) throw new Error('push is not started');
    return this.sweeper.sweep();
  }

  async start(): Promise<void> {
    const { config, observe } = this.deps;
    const bus = await openBus(config.bus, this.registry, observe.busFailed, observe.bus);
    await bus.start();
    this.bus = bus;
    // The registry tells the bus which devices this node holds; the bus hands it their messages.
    this.registry.announceTo(bus);
    const push = config.push;
    this.sweeper = new Sweeper(
      this.deps.storage(),
      {
        intervalMs: push.sweepIntervalSeconds * 1000,
        deviceIdleMs: push.deviceIdleDays * 86_400_000,
        now: this.deps.now,
        ...(observe.expired ? { expired: observe.expired } : {}),
      },
      observe.sweep,
    );
  }

  async register(http: HttpListeners): Promise<void> {
    if (!this.deps.serve) return;
    const { config, storage, urls, now } = this.deps;
    const store = storage();
    const wakeup = this.deps.wakeup();
    const push = config.push;
    if (http.admin) registerPushAdminRoutes(http.admin, store, () => this.registry.size, now);
    const blocklist = this.blocklist;
    await registerEndpointRoutes(http.endpoint, {
      store,
      bus: wakeup.enabled ? withWakeup(this.requireBus(), wakeup) : this.requireBus(),
      endpointTokens: this.deps.endpointTokens,
      messageIds: this.deps.messageIds,
      vapid: new VapidChecker({ audience: urls.origin, clockSkewSeconds: push.vapidClockSkewSeconds, cacheEntries: push.vapidCacheEntries }),
      origin: urls.origin,
      maxTtlSeconds: push.maxTtlSeconds,
      maxBodyBytes: push.maxBodyBytes,
      now,
      blocklist,
      revocation: {
        blocklist,
        audience: urls.origin,
        clockSkewSeconds: push.vapidClockSkewSeconds,
        now,
        revoked: (keyHash, newlyBlocked) => this.deps.logger.info({ keyHash, newlyBlocked }, 'audit: sender key revoked by its holder'),
      },
      guard: senderGuard(this.deps.guard, store),
      observe: this.deps.observe.endpoint,
    });
    this.socketServer = this.makeSocketServer(store, blocklist);
  }

  listening(): void {
    if (this.deps.serve) this.sweeper?.start();
  }

  async stop(): Promise<void> {
    await this.sweeper?.stop();
    await this.bus?.close();
  }

  private attachSockets(http: HttpListeners): void {
    this.socketServer?.attach(http.devices.server);
  }

  private makeSocketServer(store: Store, blocklist: SenderBlocklist): SocketServer {
    const { config, guard, urls, now } = this.deps;
    const push = config.push;
    return new SocketServer(
      {
        store,
        now,
        newUaid,
        newChannelId,
        endpointFor: (uaid, channelId, senderKeyHash) => urls.pushEndpoint(uaid, channelId, senderKeyHash),
        claimDevice: (uaid, session) => this.registry.claim(uaid, session),
        releaseDevice: (uaid, session) => this.registry.release(uaid, session),
        broadcasts: () => push.broadcasts,
        isSenderKeyBlocked: (keyHash) => blocklist.isBlocked(keyHash),
        wakeup: this.deps.wakeup(),
        ...(this.deps.deviceAuth ? { deviceAuth: this.deps.deviceAuth } : {}),
        ...(this.deps.attestation ? { attestation: this.deps.attestation } : {}),
        observe: this.deps.observe.session,
      },
      {
        msgLimit: push.msgLimit,
        batchSize: push.batchSize,
        clientPingIntervalMs: push.clientPingIntervalSeconds * 1000,
        helloTimeoutMs: push.helloTimeoutMs,
        wsPingIntervalMs: push.wsPingIntervalSeconds * 1000,
        wsPongTimeoutMs: push.wsPongTimeoutSeconds * 1000,
        maxFrameBytes: push.maxFrameBytes,
        perMessageDeflate: push.perMessageDeflate,
        maxChannelsPerDevice: guard.maxChannelsPerDevice,
        frameBudget: guard.frameBudget,
      },
      this.deps.observe.connections,
      async (request) => {
        const peer = request.socket.remoteAddress;
        const forwardedFor = request.headers['x-forwarded-for'];
        if (!guard.admitsNetwork('devices', peer, forwardedFor)) return { refuse: 403 };
        const certificate = this.deps.upgradeOwner ? await this.deps.upgradeOwner(request) : { ok: true as const, owner: undefined };
        if (!certificate.ok) return { refuse: 403 };
        const release = guard.admitConnection(guard.source(peer, forwardedFor));
        if (!release) return { refuse: 429 };
        return certificate.owner === undefined ? { release } : { release, deviceOwner: certificate.owner };
      },
    );
  }

  private requireBus(): Bus {
    if (!this.bus) throw new Error('push is not started');
    return this.bus;
  }
}
