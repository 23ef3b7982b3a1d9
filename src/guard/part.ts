/**
 * The guard part: builds the guard from config (its counters on Redis when the bus is, else in
 * memory), caps TCP connections per peer on the public listeners, lists bans on the admin
 * listener, and closes its Redis connection on stop.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../config/load.js';
import type { HeraldConfig } from '../config/schema.js';
import { senderErrors } from '../http/sender-errors.js';
import type { HttpListeners, Part } from '../server/part.js';
import { registerGuardAdminRoutes } from './admin-routes.js';
import type { GuardConfig } from '../config/guard.js';
import { Guard, type GuardEvents } from './guard.js';
import type { AllowedNetworks, ListenerName } from './allowlist.js';

export class GuardPart implements Part {
  readonly name = 'guard';
  readonly guard: Guard;

  constructor(
    config: GuardConfig,
    bus: Pick<HeraldConfig['bus'], 'url' | 'keyPrefix' | 'commandTimeoutMs'>,
    events: GuardEvents,
    now: () => number,
    msgLimit: number,
    private readonly allowedNetworks: AllowedNetworks = { devices: [], endpoint: [], admin: [] },
  ) {
    this.guard = new Guard(config, bus, events, now, msgLimit, allowedNetworks);
  }

  /** Moves the counters to Redis when the bus is Redis (loading its client only then). */
  async start(): Promise<void> {
    await this.guard.start();
  }

  async register(http: HttpListeners): Promise<void> {
    if (http.endpoint === http.devices && this.allowedNetworks.endpoint.length > 0) {
      throw new ConfigError('server.allowedNetworks.endpoint: needs server.endpointPort (the endpoint shares the device port; use allowedNetworks.devices)');
    }
    this.restrictNetworks(http.devices, 'devices');
    if (http.endpoint !== http.devices) this.restrictNetworks(http.endpoint, 'endpoint');
    if (http.admin) this.restrictNetworks(http.admin, 'admin');
    if (http.admin) registerGuardAdminRoutes(http.admin, this.guard);
    for (const app of http.public) {
      // Before any byte is read: a peer holding too many connections gets the new one closed.
      app.server.on('connection', (socket: Socket) => {
        const release = this.guard.admitTcpConnection(socket.remoteAddress);
        if (!release) socket.destroy();
        else socket.once('close', release);
      });
    }
  }

  /** Every request of this listener (before routing, body or token) from outside its networks: 403. */
  private restrictNetworks(app: FastifyInstance, listener: ListenerName): void {
    if (!this.guard.restrictsNetworks(listener)) return;
    app.addHook('onRequest', (request, reply, done) => {
      if (this.guard.admitsNetwork(listener, request.socket.remoteAddress, request.headers['x-forwarded-for'])) {
        done();
        return;
      }
      senderErrors.send(reply, senderErrors.error('networkRefused'));
    });
  }

  async stop(): Promise<void> {
    await this.guard.close();
  }
}
