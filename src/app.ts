/**
 * The composition root: builds every part of Herald from the validated config, starts them in
 * the order listed, binds the listeners, and stops everything in reverse. Each part is built by
 * its own folder (src/<part>/part.ts); this file only lists them and wires what one part needs
 * of another. No other file knows the whole system.
 */
import type { IncomingMessage } from 'node:http';
import { pino, type Logger } from 'pino';
import { AccountsPart } from './accounts/part.js';
import { publicOrigin, resolvePaths } from './config/load.js';
import { PasswordChecker } from './accounts/sign-in.js';
import { cookieNames } from './console/cookies.js';
import { CsrfTokens } from './console/csrf.js';
import { ConsolePart } from './console/part.js';
import type { HeraldConfig } from './config/schema.js';
import { loadOrCreateSecrets, type Secrets } from './config/secrets.js';
import { KeyRing } from './crypto/keyring.js';
import { readClientTrust } from './devices/ca-files.js';
import { attestationGateFromConfig } from './devices/attestation.js';
import { DevicesPart } from './devices/part.js';
import { GuardPart } from './guard/part.js';
import { checkTlsOrigin } from './server/tls.js';
import { Metrics } from './ops/metrics.js';
import * as observe from './ops/observers.js';
import { AppStatsCounter } from './ops/app-stats.js';
import { opsPart } from './ops/part.js';
import type { SweepResult } from './push/delivery/sweeper.js';
import { DEVICE_AUTH_SERVICE, deviceAuthFromConfig } from './push/device-auth/from-config.js';
import { ownerOfUid } from './push/device-auth/device-auth.js';
import { EndpointUrls } from './push/endpoint/urls.js';
import { PushPart } from './push/part.js';
import { WakeupPart } from './push/wakeup/part.js';
import { Listeners, type BoundListeners } from './server/listeners.js';
import type { Part } from './server/part.js';
import { StoragePart } from './store/open/part.js';
import type { Store } from './store/types.js';
import { TokenServerPart } from './tokenserver/part.js';
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

export const HERALD_PARTS = ['push', 'accounts', 'tokens'] as const;
export type HeraldPart = (typeof HERALD_PARTS)[number];

/** Where Herald listens (the ws:// URL devices connect to, the endpoint origin, the ports). */
export type { BoundListeners as Listeners } from './server/listeners.js';

/** The parts, in start order, and the ones the Herald object itself talks to. */
interface Assembly {
  parts: Part[];
  listeners: Listeners;
  storage: StoragePart;
  push: PushPart;
  storeUrl: string;
}

/** What several parts are built around: the data folder, the store, the guard, the listeners, the key rings, the outage log. */
interface SharedParts {
  dataDir: string;
  storage: StoragePart;
  guard: GuardPart;
  listeners: Listeners;
  secrets: Secrets;
  outages: observe.Outages;
}

/** What the push part is told about its neighbours. */
interface PushWiring {
  endpointTokens: KeyRing;
  wakeup: WakeupPart;
  devices: DevicesPart;
  attestation: ReturnType<typeof attestationGateFromConfig>;
  /** Counts each app's pushes for the console's charts. */
  appStats: AppStatsCounter;
  serve: boolean;
}

export class Herald {
  readonly config: HeraldConfig;
  readonly logger: Logger;
  readonly metrics = new Metrics();
  private readonly now: () => number;
  private assembly: Assembly | undefined;
  /** Parts whose start ran, in order: stop() stops exactly these, in reverse. */
  private started: Part[] = [];

  constructor(private readonly options: HeraldOptions) {
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? pino({ level: this.config.log.level, base: { service: 'herald' } });
  }

  get listeners(): BoundListeners {
    return this.require().listeners.addresses;
  }

  /**
   * Herald's own store connection, for tests that must change what is stored (drop a device) so
   * that Herald's caches see it; tests read through a connection of their own (test/helpers).
   */
  get storage(): Store {
    return this.require().storage.store;
  }

  /** Device sockets open to this node now (what `herald admin devices stats` calls connectedHere). */
  get connectedDevices(): number {
    return this.require().push.registry.size;
  }

  /** The uaids of the devices connected to this node now (tests; never logged or answered over HTTP). */
  connectedUaids(): string[] {
    const uaids: string[] = [];
    this.require().push.registry.forEach((session) => {
      if (session.uaid) uaids.push(session.uaid);
    });
    return uaids;
  }

  /** Runs one expiry and idle sweep now. */
  sweep(): Promise<SweepResult> {
    return this.require().push.sweep();
  }

  async start(): Promise<BoundListeners> {
    const assembly = this.assemble();
    this.assembly = assembly;
    try {
      for (const part of assembly.parts) {
        await part.start?.();
        this.started.push(part);
      }
      for (const part of assembly.parts) await part.register?.(assembly.listeners.http);
      await assembly.listeners.listen();
      for (const part of assembly.parts) part.listening?.();
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.logStartup(assembly);
    return assembly.listeners.addresses;
  }

  /** Closes device sockets (1001), the listeners, then every part in reverse start order. */
  async stop(): Promise<void> {
    const parts = this.started.reverse();
    this.started = [];
    for (const part of parts) await part.stop?.();
  }

  /**
   * Reads the certificate and key files again and installs them on every listener (SIGHUP).
   * Connected sockets stay up; new handshakes get the new certificate. Throws (and keeps the old
   * certificate) when the files cannot be read.
   */
  reloadTls(): void {
    this.require().listeners.reloadTls();
    this.logger.info('TLS certificate reloaded');
  }

  /** Builds every part from config; nothing is opened or bound yet. */
  private assemble(): Assembly {
    const runs = (part: HeraldPart) => !this.options.only || this.options.only.includes(part);
    const config = this.config;
    const paths = resolvePaths(config);
    const secrets = this.options.secrets ?? this.bootstrapSecrets(paths.dataDir);
    const { logger, metrics, now } = this;
    const listeners = new Listeners(config, logger, () => readClientTrust(paths.dataDir));
    if (listeners.tlsEnabled) checkTlsOrigin(config.server.publicOrigin);
    const endpointTokens = new KeyRing(secrets.endpointTokens, 'endpoint-token');

    const storage = new StoragePart(paths.storeUrl, { rings: secrets, dataDir: paths.dataDir, now }, { retried: () => metrics.storageRetries.inc() });
    const redis = config.bus.url !== 'local';
    const outages = observe.outages(metrics, logger, () => storage.store, { bus: redis, limits: redis && config.guard.enabled });
    const appStats = new AppStatsCounter({ store: () => storage.store.appStats, now, onError: (error) => outages.storage.failed(error) });
    const guard = new GuardPart(config.guard, config.bus, observe.guardObserver(metrics, logger, outages), now, config.push.msgLimit, config.server.allowedNetworks);
    const attestation = attestationGateFromConfig(config.devices.attestation, { now, ...observe.attestationObserver(metrics, logger) });
    const devices = new DevicesPart({
      config,
      dataDir: paths.dataDir,
      storage: () => storage.store,
      isTrustedProxy: (peer) => guard.guard.isTrustedProxy(peer),
      reloadClientTrust: () => listeners.reloadClientTrust(),
      now,
      guard: guard.guard,
      attestation,
      ...observe.devicesObserver(metrics, logger),
    });
    const wakeup = new WakeupPart(config.push.wakeup, {
      storage: () => storage.store,
      ring: endpointTokens,
      now,
      observe: observe.wakeupObserver(metrics, outages),
    });
    const shared: SharedParts = { dataDir: paths.dataDir, storage, guard, listeners, secrets, outages };
    const push = this.pushPart(shared, { endpointTokens, wakeup, devices, attestation, appStats, serve: runs('push') });
    const health = {
      bus: () => push.busState,
      limits: () => guard.guard.redisState,
      storageFailed: (error: unknown) => outages.storage.failed(error),
    };
    const ops = opsPart(metrics, () => storage.store, config.server.metricsToken, health, () => outages.stop());
    // appStats stops after push (reverse order), so its last flush has every count.
    const parts: Part[] = [storage, ops, appStats, guard, devices, wakeup, push];
    parts.push(...this.identityParts(shared, push, { accounts: runs('accounts'), tokens: runs('tokens') }));
    // Stopped before the parts above (reverse order): sockets close 1001, then the listeners.
    parts.push({ name: 'listeners', stop: () => listeners.close() }, push.sockets);
    return { parts, listeners, storage, push, storeUrl: paths.storeUrl };
  }

  /** The push service: endpoints, device sockets, delivery; told about wake-up, device auth and attestation. */
  private pushPart(
    { storage, guard, listeners, secrets, outages }: SharedParts,
    { endpointTokens, wakeup, devices, attestation, appStats, serve }: PushWiring,
  ): PushPart {
    const { config, logger, metrics, now } = this;
    return new PushPart({
      config,
      storage: () => storage.store,
      guard: guard.guard,
      wakeup: () => wakeup.service,
      urls: new EndpointUrls(endpointTokens, listeners.origin),
      endpointTokens,
      messageIds: new KeyRing(secrets.messageIds, 'message-id'),
      attestation: attestation?.guards('devices') ? attestation : null,
      deviceAuth: deviceAuthFromConfig(config, () => secrets.tokenServer, () => listeners.ownUrls(), now),
      now,
      logger,
      observe: {
        endpoint: observe.endpointObserver(metrics, outages, appStats),
        session: observe.sessionObserver(metrics, logger, outages, appStats),
        connections: observe.connectionObserver(metrics),
        sweep: observe.sweepReporter(metrics, logger),
        expired: observe.expiryObserver(appStats),
        busFailed: observe.busErrorLogger(outages),
        bus: observe.busObserver(metrics, logger, outages),
      },
      ...(devices.enabled ? { upgradeOwner: (request: IncomingMessage) => devices.upgradeOwner(request) } : {}),
      serve,
    });
  }

  /** The accounts server, its console and the token server, when config enables them and `--only` runs them. */
  private identityParts(shared: SharedParts, push: PushPart, runs: { accounts: boolean; tokens: boolean }): Part[] {
    const { config, now } = this;
    const { dataDir, storage, guard, listeners, secrets, outages } = shared;
    const accountsOn = config.accounts.enabled && runs.accounts;
    const tokensOn = config.tokenserver.enabled && runs.tokens;
    if (!accountsOn && !tokensOn) return [];
    const failed = observe.identityErrorLogger(outages);
    const accounts = new AccountsPart({
      config, dataDir, origin: listeners.origin, now, serve: accountsOn,
      onError: (error) => failed(error, 'accounts'),
    });
    const parts: Part[] = [accounts];
    if (accountsOn && config.console.enabled) parts.push(this.consolePart(accounts, push, guard, listeners, secrets, failed));
    if (tokensOn) {
      parts.push(new TokenServerPart({
        config, accounts, secrets: secrets.tokenServer, now, guard: guard.guard,
        onUserRetired: (event) => this.userRetired(storage.store, event),
        onError: (error) => failed(error, 'tokenserver'),
      }));
    }
    return parts;
  }

  /** The web console: signs in through the accounts' store and budgets, revokes through push's blocklist. */
  private consolePart(
    accounts: AccountsPart,
    push: PushPart,
    guard: GuardPart,
    listeners: Listeners,
    secrets: Secrets,
    failed: (error: unknown, part: 'console') => void,
  ): ConsolePart {
    const { config, now } = this;
    const origin = () =>
      config.console.origin ?? publicOrigin(config, { endpointPort: listeners.addresses.connectionPort, tls: listeners.tlsEnabled });
    return new ConsolePart({
      vapidClockSkewSeconds: config.push.vapidClockSkewSeconds,
      deps: () => ({
        store: accounts.store,
        passwords: new PasswordChecker(accounts.store, accounts.loginLimiter, accounts.passwordCost),
        sources: accounts.sources,
        csrf: new CsrfTokens(secrets.consoleCsrf),
        cookies: cookieNames(config.console.origin ?? config.server.publicOrigin ?? `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}`, listeners.tlsEnabled),
        origin,
        pushOrigin: listeners.origin,
        sessions: { idleMs: config.console.sessionIdleSeconds * 1000, lifetimeMs: config.console.sessionLifetimeSeconds * 1000 },
        accountSessions: {
          idleMs: config.accounts.sessionIdleSeconds * 1000,
          lifetimeMs: config.accounts.sessionLifetimeSeconds * 1000,
          maxPerAccount: config.accounts.maxSessionsPerAccount,
        },
        blocklist: () => push.blocklist,
        pushStore: () => this.storage,
        guard: guard.guard,
        connectedHere: () => push.registry.size,
        now,
        audit: (event, message) => this.logger.info({ part: 'console', ...event }, message),
        onError: (error) => failed(error, 'console'),
      }),
    });
  }

  /**
   * A client-state change gave a token-server user a new uid: the old one's push devices (and
   * their stored messages, encrypted to keys the user no longer has) go.
   */
  private async userRetired(store: Store, event: RetiredUser): Promise<void> {
    if (event.service === DEVICE_AUTH_SERVICE) await store.dropDevicesOwnedBy(ownerOfUid(event.retiredUid));
    await this.options.onUserRetired?.(event);
  }

  private logStartup({ listeners, push, storeUrl }: Assembly): void {
    const bound = listeners.addresses;
    const { server } = this.config;
    this.logger.info(
      {
        devices: bound.connectionUrl,
        endpoint: `${server.host}:${bound.endpointPort}`,
        publicOrigin: bound.endpointOrigin,
        admin: bound.adminPort === null ? (server.metricsToken ? 'metrics on the device port (bearer token)' : 'none (no metrics)') : `${server.adminHost}:${bound.adminPort}`,
        store: storeUrl.startsWith('sqlite:') ? storeUrl : storeUrl.replace(/\/\/[^@]*@/, '//***@'),
        bus: push.busDescription,
      },
      `Herald listening: devices ${bound.connectionUrl}, endpoints ${bound.endpointOrigin}/wpush/…`,
    );
  }

  private bootstrapSecrets(dataDir: string): Secrets {
    const { secrets, created } = loadOrCreateSecrets(dataDir);
    if (created) this.logger.info({ dataDir }, 'generated new secrets in the data folder (mode 0600)');
    return secrets;
  }

  private require(): Assembly {
    if (!this.assembly) throw new Error('Herald is not started');
    return this.assembly;
  }
}
