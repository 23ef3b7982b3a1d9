/**
 * The composition root: builds every part from the validated config, starts the listeners and
 * stops everything in reverse order. No other file knows the whole system.
 */
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { openIdentity, type Identity } from './accounts/identity.js';
import { resolvePaths } from './config/load.js';
import type { HeraldConfig } from './config/schema.js';
import { loadOrCreateSecrets, type Secrets } from './config/secrets.js';
import { KeyRing } from './crypto/keyring.js';
import { registerGuardAdminRoutes } from './guard/admin-routes.js';
import { senderGuard } from './guard/endpoint-guard.js';
import { Guard } from './guard/guard.js';
import { addHsts, checkTlsOrigin, readTlsMaterial, reloadSecureContexts, type TlsMaterial } from './guard/tls.js';
import { newChannelId, newUaid, sealEndpointToken } from './crypto/tokens.js';
import { Metrics } from './ops/metrics.js';
import { registerHealthRoutes, registerMetricsRoute } from './ops/routes.js';
import { SessionRegistry } from './push/connection/registry.js';
import { SocketServer } from './push/connection/socket-server.js';
import type { Bus } from './push/delivery/bus.js';
import { openBus } from './push/delivery/open-bus.js';
import { Sweeper } from './push/delivery/sweeper.js';
import { senderFrameworkErrors } from './http/sender-errors.js';
import { registerEndpointRoutes } from './push/endpoint/routes.js';
import { VapidChecker } from './push/endpoint/vapid-check.js';
import { SenderBlocklist } from './push/revocation/blocklist.js';
import { DeviceAuthenticator, hostOf, ownerOfUid } from './push/device-auth/device-auth.js';
import { withWakeup } from './push/wakeup/bus.js';
import { WakeupService } from './push/wakeup/service.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/types.js';
import type { RetiredUser } from './tokenserver/routes.js';

export interface HeraldOptions {
  config: HeraldConfig;
  /** Defaults to a pino logger at config.log.level on stdout. */
  logger?: Logger;
  /** Injected clock for tests; defaults to Date.now. */
  now?: () => number;
  /** Use these key rings instead of the data folder's (tests). */
  secrets?: Secrets;
  /** Told when a client-state change retired a token-server user (the push service drops its data). */
  onUserRetired?: (event: RetiredUser) => void | Promise<void>;
  /** `herald serve --only …`: run just these parts (default: every enabled part). */
  only?: ReadonlyArray<HeraldPart>;
}

/** The token-server service whose tokens devices present in hello (push.deviceAuth = "token"). */
export const DEVICE_AUTH_SERVICE = 'push';

export const HERALD_PARTS = ['push', 'accounts', 'tokens'] as const;
export type HeraldPart = (typeof HERALD_PARTS)[number];

export interface Listeners {
  /** ws://… URL devices connect to. */
  connectionUrl: string;
  /** Origin that push endpoints carry. */
  endpointOrigin: string;
  connectionPort: number;
  endpointPort: number;
  adminPort: number | null;
}

export class Herald {
  readonly config: HeraldConfig;
  readonly logger: Logger;
  readonly metrics = new Metrics();
  readonly registry = new SessionRegistry();
  private readonly now: () => number;
  private store: Store | undefined;
  private bus: Bus | undefined;
  private sweeper: Sweeper | undefined;
  private wakeup: WakeupService | undefined;
  private identity: Identity | undefined;
  private socketServer: SocketServer | undefined;
  private readonly servers: FastifyInstance[] = [];
  private listenersInfo: Listeners | undefined;
  private guard: Guard | undefined;
  private tls: TlsMaterial | null = null;

  constructor(private readonly options: HeraldOptions) {
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? pino({ level: this.config.log.level, base: { service: 'herald' } });
  }

  get listeners(): Listeners {
    if (!this.listenersInfo) throw new Error('Herald is not started');
    return this.listenersInfo;
  }

  /** The store in use (tests inspect it; nothing else should reach around the parts). */
  get storage(): Store {
    if (!this.store) throw new Error('Herald is not started');
    return this.store;
  }

  sweep(): ReturnType<Sweeper['sweep']> {
    if (!this.sweeper) throw new Error('Herald is not started');
    return this.sweeper.sweep();
  }

  async start(): Promise<Listeners> {
    const runs = (part: HeraldPart) => !this.options.only || this.options.only.includes(part);
    const config: HeraldConfig = {
      ...this.config,
      accounts: { ...this.config.accounts, enabled: this.config.accounts.enabled && runs('accounts') },
      tokenserver: { ...this.config.tokenserver, enabled: this.config.tokenserver.enabled && runs('tokens') },
    };
    const paths = resolvePaths(config);
    const secrets = this.options.secrets ?? this.bootstrapSecrets(paths.dataDir);
    this.tls = readTlsMaterial(config.tls);
    if (this.tls) checkTlsOrigin(config.server.publicOrigin);
    const endpointTokens = new KeyRing(secrets.endpointTokens, 'endpoint-token');
    const messageIds = new KeyRing(secrets.messageIds, 'message-id');

    const store = await openStore(paths.storeUrl);
    this.store = store;
    const bus = openBus(config.bus, this.registry, (error, during) => {
      this.logger.warn({ err: errorSummary(error), during }, 'bus: Redis failed; deliveries fall back to storage');
    });
    try {
      await bus.start();
    } catch (error) {
      await store.close();
      throw error;
    }
    this.bus = bus;
    const guard = new Guard(config.guard, config.bus, {
      banned: (reason) => {
        this.metrics.guardBans.inc({ reason });
        this.logger.warn({ reason }, 'guard: a source is banned for a cool-down (herald admin bans lists it)');
      },
      limited: (limit) => this.metrics.guardLimited.inc({ limit }),
      redisFailed: (error) => this.logger.warn({ err: errorSummary(error) }, 'guard: Redis failed; limits fall back to per-node counters'),
    }, this.now);
    this.guard = guard;
    // The registry tells the bus which devices this node holds; the bus hands it their messages.
    this.registry.announceTo(bus);
    const wakeup = this.makeWakeup(store, endpointTokens);

    const separateEndpoint = config.server.endpointPort !== null && config.server.endpointPort !== config.server.port;
    const connectionApp = this.makeServer();
    const endpointApp = separateEndpoint ? this.makeServer() : connectionApp;
    const adminApp = config.server.adminPort !== null ? this.makeServer() : null;

    // The origin is known only once the endpoint listener has its port (port 0 in tests).
    let origin = config.server.publicOrigin ?? '';
    const getOrigin = () => origin;

    const blocklist = new SenderBlocklist(store, {
      ttlMs: config.push.senderBlocklistCacheSeconds * 1000,
      maxEntries: 10_000,
      now: this.now,
    });

    for (const app of new Set([connectionApp, endpointApp])) registerHealthRoutes(app, store);
    if (adminApp) {
      registerGuardAdminRoutes(adminApp, guard);
      registerHealthRoutes(adminApp, store);
      registerMetricsRoute(adminApp, this.metrics);
    } else {
      registerMetricsRoute(connectionApp, this.metrics);
    }

    if (runs('push')) await registerEndpointRoutes(endpointApp, {
      store,
      bus: wakeup.enabled ? withWakeup(bus, wakeup) : bus,
      endpointTokens,
      messageIds,
      vapid: new VapidChecker({
        audience: getOrigin,
        clockSkewSeconds: config.push.vapidClockSkewSeconds,
        cacheEntries: config.push.vapidCacheEntries,
      }),
      origin: getOrigin,
      maxTtlSeconds: config.push.maxTtlSeconds,
      maxBodyBytes: config.push.maxBodyBytes,
      now: this.now,
      blocklist,
      revocation: {
        blocklist,
        audience: getOrigin,
        clockSkewSeconds: config.push.vapidClockSkewSeconds,
        now: this.now,
        revoked: (keyHash, newlyBlocked) => this.logger.info({ keyHash, newlyBlocked }, 'audit: sender key revoked by its holder'),
      },
      guard: senderGuard(guard, store),
      observe: {
        accepted: (outcome, seconds) => {
          this.metrics.messagesAccepted.inc({ outcome });
          this.metrics.acceptSeconds.observe(seconds);
        },
        failed: (errno, cause) => {
          this.metrics.endpointErrors.inc({ errno: String(errno) });
          if (errno === 201 || errno === 999) this.logger.error({ errno, err: errorSummary(cause) }, 'sender endpoint failed');
        },
      },
    });

    if (config.accounts.enabled || config.tokenserver.enabled) {
      this.identity = await openIdentity({
        config, dataDir: paths.dataDir, origin: getOrigin, tokenSecrets: secrets.tokenServer, now: this.now,
        onUserRetired: async (event) => {
          // A client-state change gave the user a new uid: the old one's push devices (and their
          // stored messages, encrypted to keys the user no longer has) go.
          if (event.service === DEVICE_AUTH_SERVICE) await store.dropDevicesOwnedBy(ownerOfUid(event.retiredUid));
          await this.options.onUserRetired?.(event);
        },
        onError: (error, part) => this.logger.error({ err: errorSummary(error), part }, 'identity request failed'),
      });
      await this.identity.register(connectionApp);
    }

    this.socketServer = new SocketServer(
      {
        store,
        now: this.now,
        newUaid,
        newChannelId,
        endpointFor: (uaid, channelId, senderKeyHash) => {
          const { version, token } = sealEndpointToken(endpointTokens, { uaid, channelId, senderKeyHash });
          return `${getOrigin()}/wpush/v${version}/${token}`;
        },
        claimDevice: (uaid, session) => this.registry.claim(uaid, session),
        releaseDevice: (uaid, session) => this.registry.release(uaid, session),
        broadcasts: () => config.push.broadcasts,
        isSenderKeyBlocked: (keyHash) => blocklist.isBlocked(keyHash),
        wakeup,
        ...(config.push.deviceAuth === 'token' ? { deviceAuth: this.makeDeviceAuth(secrets, getOrigin) } : {}),
        observe: {
          delivered: (count, fromStorage) => this.metrics.messagesDelivered.inc({ source: fromStorage ? 'storage' : 'live' }, count),
          acked: (code) => this.metrics.messagesAcked.inc({ code: String(code ?? 100) }),
          reset: () => this.metrics.deviceResets.inc(),
          violation: (reason) => {
            this.metrics.protocolViolations.inc();
            this.logger.debug({ reason }, 'socket closed for a protocol violation');
          },
          storageFailed: (error) => {
            this.logger.error({ err: errorSummary(error) }, 'storage failed under a device session; socket closed 1011');
          },
        },
      },
      {
        msgLimit: config.push.msgLimit,
        batchSize: config.push.batchSize,
        clientPingIntervalMs: config.push.clientPingIntervalSeconds * 1000,
        helloTimeoutMs: config.push.helloTimeoutMs,
        wsPingIntervalMs: config.push.wsPingIntervalSeconds * 1000,
        wsPongTimeoutMs: config.push.wsPongTimeoutSeconds * 1000,
        maxFrameBytes: config.push.maxFrameBytes,
        perMessageDeflate: config.push.perMessageDeflate,
        maxChannelsPerDevice: guard.maxChannelsPerDevice,
      },
      {
        opened: () => this.metrics.connections.inc(),
        closed: () => this.metrics.connections.dec(),
      },
      (request) => guard.admitConnection(guard.source(request.socket.remoteAddress, request.headers['x-forwarded-for'])),
    );
    if (runs('push')) this.socketServer.attach(connectionApp.server);

    const host = config.server.host;
    const connectionPort = await listen(connectionApp, host, config.server.port);
    const endpointPort = separateEndpoint ? await listen(endpointApp, host, config.server.endpointPort as number) : connectionPort;
    const adminPort = adminApp ? await listen(adminApp, config.server.adminHost, config.server.adminPort as number) : null;

    if (!config.server.publicOrigin) {
      origin = resolvePaths({ ...config, server: { ...config.server, endpointPort } }).publicOrigin;
      if (this.tls) origin = origin.replace(/^http:/, 'https:');
    }

    this.sweeper = new Sweeper(
      store,
      { intervalMs: config.push.sweepIntervalSeconds * 1000, deviceIdleMs: config.push.deviceIdleDays * 86_400_000, now: this.now },
      (result) => {
        if (result instanceof Error) {
          this.logger.error({ err: result.message }, 'sweep failed');
          return;
        }
        this.metrics.messagesExpired.inc(result.expiredMessages);
        this.metrics.devicesSwept.inc(result.idleDevices);
        if (result.expiredMessages || result.idleDevices) this.logger.info(result, 'swept expired messages and idle devices');
      },
    );
    if (runs('push')) this.sweeper.start();

    const connectionHost = host.includes(':') ? `[${host}]` : host;
    this.listenersInfo = {
      connectionUrl: `${this.tls ? 'wss' : 'ws'}://${connectionHost}:${connectionPort}/`,
      endpointOrigin: origin,
      connectionPort,
      endpointPort,
      adminPort,
    };
    this.logger.info(
      {
        devices: this.listenersInfo.connectionUrl,
        endpoint: `${host}:${endpointPort}`,
        publicOrigin: origin,
        admin: adminPort === null ? 'metrics on the device port' : `${config.server.adminHost}:${adminPort}`,
        store: paths.storeUrl.startsWith('sqlite:') ? paths.storeUrl : paths.storeUrl.replace(/\/\/[^@]*@/, '//***@'),
        bus: bus.description,
      },
      `Herald listening: devices ${this.listenersInfo.connectionUrl}, endpoints ${origin}/wpush/…`,
    );
    return this.listenersInfo;
  }

  /** Stops accepting, closes sockets (1001), finishes the sweep, closes storage. */
  async stop(): Promise<void> {
    await this.sweeper?.stop();
    await this.socketServer?.close();
    await Promise.all(this.servers.map((server) => server.close()));
    await this.bus?.close();
    await this.wakeup?.close();
    await this.guard?.close();
    await this.identity?.close();
    await this.store?.close();
    this.servers.length = 0;
  }

  /**
   * Reads the certificate and key files again and installs them on every listener (SIGHUP).
   * Connected sockets stay up; new handshakes get the new certificate. Throws (and keeps the old
   * certificate) when the files cannot be read.
   */
  reloadTls(): void {
    if (!this.tls) throw new Error('TLS is not configured (tls.cert and tls.key)');
    const material = readTlsMaterial(this.config.tls);
    if (!material) return;
    reloadSecureContexts(
      this.servers.map((app) => app.server as unknown as TlsServer),
      material,
    );
    this.tls = material;
    this.logger.info('TLS certificate reloaded');
  }

  private makeServer(): FastifyInstance {
    const app = Fastify({
      // The https server type differs from http's only in TLS methods (used by reloadTls).
      ...(this.tls ? { https: { cert: this.tls.cert, key: this.tls.key } } : {}),
      loggerInstance: this.logger.child({ part: 'http' }) as FastifyBaseLogger,
      // Request logs would carry endpoint tokens in their URLs: Herald logs its own events instead.
      logController: new LogController({ disableRequestLogging: true }),
      trustProxy: false,
      // A v2 endpoint token is ~125 characters; fastify's default 100 would answer 414 before the
      // token check could answer 404.
      routerOptions: { maxParamLength: 2048 },
      // A path that does not even decode (e.g. %ff) is a token that does not open.
      frameworkErrors: senderFrameworkErrors,
    });
    if (this.tls) addHsts(app, this.config.tls.hstsMaxAgeSeconds);
    this.servers.push(app);
    return app;
  }

  /** push.deviceAuth = "token": tokens of the token server's "push" service, for this node. */
  private makeDeviceAuth(secrets: Secrets, origin: () => string): DeviceAuthenticator {
    const configured = this.config.push.deviceAuthNodes.map(hostOf).filter((host): host is string => host !== null);
    return new DeviceAuthenticator({
      ring: () => secrets.tokenServer,
      nodeHosts: () => {
        const own = [origin(), this.listenersInfo?.connectionUrl ?? ''].map(hostOf).filter((host): host is string => host !== null);
        return new Set([...configured, ...own]);
      },
      nowSeconds: () => Math.floor(this.now() / 1000),
    });
  }

  /** UDP wake-up (docs/wakeup.md); off, and touching nothing, unless push.wakeup.allowedNetworks is set. */
  private makeWakeup(store: Store, ring: KeyRing): WakeupService {
    this.wakeup = new WakeupService(
      {
        store,
        ring,
        now: this.now,
        observe: {
          woke: (outcome, error) => {
            this.metrics.wakeupDatagrams.inc({ outcome });
            if (error) this.logger.warn({ err: errorSummary(error) }, 'wake-up datagram failed');
          },
          storageFailed: (error) => this.logger.error({ err: errorSummary(error) }, 'storage failed writing a wake-up address; hello answered 500 for it'),
        },
      },
      this.config.push.wakeup,
    );
    return this.wakeup;
  }

  private bootstrapSecrets(dataDir: string): Secrets {
    const { secrets, created } = loadOrCreateSecrets(dataDir);
    if (created) this.logger.info({ dataDir }, 'generated new secrets in the data folder (mode 0600)');
    return secrets;
  }
}

/** Name, message and code of an error: no stack of request data, no ids (they are not in messages). */
function errorSummary(error: unknown): { name: string; message: string; code?: string } {
  if (!(error instanceof Error)) return { name: 'unknown', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<number> {
  await app.listen({ host, port });
  return (app.server.address() as AddressInfo).port;
}
