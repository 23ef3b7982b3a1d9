/**
 * Herald's HTTP listeners: the device port, the sender endpoint's port (the same one unless
 * server.endpointPort differs) and the admin port. One place builds the fastify instances (TLS,
 * HSTS, no request logs), binds them, knows the public origin and reloads the certificate.
 */
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, publicOrigin } from '../config/load.js';
import type { HeraldConfig } from '../config/schema.js';
import { addAccessLog } from './access-log.js';
import { addHsts, readTlsMaterial, reloadSecureContexts, type ClientTrust, type TlsMaterial } from './tls.js';
import { senderClientErrorHandler, senderFrameworkErrors } from '../http/sender-errors.js';
import type { HttpListeners } from './part.js';

/** Where Herald listens, once bound. */
export interface BoundListeners {
  /** ws://… (or wss://…) URL devices connect to. */
  connectionUrl: string;
  /** The origin push endpoints carry and VAPID `aud` must equal. */
  endpointOrigin: string;
  connectionPort: number;
  endpointPort: number;
  adminPort: number | null;
}

export class Listeners {
  readonly http: HttpListeners;
  private readonly apps: FastifyInstance[] = [];
  private tls: TlsMaterial | null;
  private bound: BoundListeners | undefined;

  constructor(
    private readonly config: HeraldConfig,
    logger: Logger,
    /** Mutual TLS (tls.clientCertificates): reads Herald's CA certificates and CRLs. */
    private readonly clientTrust: () => ClientTrust | null = () => null,
  ) {
    publicOrigin(config); // throws early when server.publicOrigin is required and missing
    this.tls = readTlsMaterial(config.tls);
    const separateEndpoint = config.server.endpointPort !== null && config.server.endpointPort !== config.server.port;
    const modes = config.tls.clientCertificates;
    if (this.tls && (modes.devices !== 'off' || (separateEndpoint && modes.endpoint !== 'off'))) this.tls.clientTrust = this.readClientTrust();
    const devices = this.makeApp(logger, modes.devices);
    const endpoint = separateEndpoint ? this.makeApp(logger, modes.endpoint) : devices;
    const admin = config.server.adminPort !== null ? this.makeApp(logger, 'off') : null;
    this.http = { devices, endpoint, admin, public: separateEndpoint ? [devices, endpoint] : [devices] };
  }

  get tlsEnabled(): boolean {
    return this.tls !== null;
  }

  /** Throws until listen() bound the ports (the origin of a port-0 listener is known only then). */
  get addresses(): BoundListeners {
    if (!this.bound) throw new Error('the listeners are not bound yet');
    return this.bound;
  }

  /** The public origin: configured, or derived from the endpoint listener once it is bound. */
  readonly origin = (): string => this.config.server.publicOrigin ?? this.addresses.endpointOrigin;

  /** This node's public URLs (origin and device URL) once bound; empty before. */
  ownUrls(): string[] {
    return this.bound ? [this.origin(), this.bound.connectionUrl] : [];
  }

  async listen(): Promise<BoundListeners> {
    const { server } = this.config;
    const { devices, endpoint, admin } = this.http;
    const connectionPort = await bind(devices, server.host, server.port);
    const endpointPort = endpoint === devices ? connectionPort : await bind(endpoint, server.host, server.endpointPort as number);
    const adminPort = admin ? await bind(admin, server.adminHost, server.adminPort as number) : null;
    const host = server.host.includes(':') ? `[${server.host}]` : server.host;
    this.bound = {
      connectionUrl: `${this.tls ? 'wss' : 'ws'}://${host}:${connectionPort}/`,
      endpointOrigin: publicOrigin(this.config, { endpointPort, tls: this.tls !== null }),
      connectionPort,
      endpointPort,
      adminPort,
    };
    return this.bound;
  }

  async close(): Promise<void> {
    await Promise.all(this.apps.map((app) => app.close()));
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
    if (this.tls.clientTrust) material.clientTrust = this.readClientTrust();
    // The https server type differs from http's only in the TLS methods used here.
    reloadSecureContexts(this.apps.map((app) => app.server as unknown as TlsServer), material);
    this.tls = material;
  }

  /**
   * Installs the CA's current CRLs (and certificates) on every TLS listener: a revocation written
   * to the CRL refuses the next handshake, connected sockets are not touched.
   */
  reloadClientTrust(): void {
    if (!this.tls?.clientTrust) return;
    this.tls.clientTrust = this.readClientTrust();
    reloadSecureContexts(this.apps.map((app) => app.server as unknown as TlsServer), this.tls);
  }

  private readClientTrust(): ClientTrust {
    const trust = this.clientTrust();
    if (!trust) throw new ConfigError('tls.clientCertificates: needs Herald\'s CA in the data folder (run `herald ca init`)');
    return trust;
  }

  private makeApp(logger: Logger, clientCertificates: 'off' | 'request' | 'require'): FastifyInstance {
    const tls = this.tls;
    const mutual =
      tls?.clientTrust && clientCertificates !== 'off'
        ? { requestCert: true, rejectUnauthorized: clientCertificates === 'require', ca: tls.clientTrust.ca, ...(tls.clientTrust.crl.length ? { crl: tls.clientTrust.crl } : {}) }
        : {};
    const app = Fastify({
      ...(tls ? { https: { cert: tls.cert, key: tls.key, ...mutual } } : {}),
      loggerInstance: logger.child({ part: 'http' }) as FastifyBaseLogger,
      // Request logs would carry endpoint tokens in their URLs: Herald logs its own events instead.
      logController: new LogController({ disableRequestLogging: true }),
      trustProxy: false,
      // Slow clients (headers then nothing, a body that never ends) are cut off; upgraded
      // WebSockets are not affected (ws clears the socket timeout and pings on its own).
      requestTimeout: this.config.server.requestTimeoutSeconds * 1000,
      connectionTimeout: this.config.server.idleTimeoutSeconds * 1000,
      keepAliveTimeout: Math.min(5000, this.config.server.idleTimeoutSeconds * 1000),
      // A v2 endpoint token is ~125 characters; fastify's default 100 would answer 414 before the
      // token check could answer 404.
      routerOptions: { maxParamLength: 2048 },
      // A path that does not even decode (e.g. %ff) is a token that does not open.
      frameworkErrors: senderFrameworkErrors,
      // What node's parser refuses (431, malformed HTTP, 408) gets the envelope too.
      clientErrorHandler: senderClientErrorHandler,
    });
    if (this.tls) addHsts(app, this.config.tls.hstsMaxAgeSeconds);
    if (this.config.log.requests) addAccessLog(app, logger);
    this.apps.push(app);
    return app;
  }
}

async function bind(app: FastifyInstance, host: string, port: number): Promise<number> {
  await app.listen({ host, port });
  return (app.server.address() as AddressInfo).port;
}
