/**
 * The guard part: builds the guard from config (its counters on Redis when the bus is, else in
 * memory), caps TCP connections per peer on the public listeners, lists bans on the admin
 * listener, and closes its Redis connection on stop.
 */
import type { Socket } from 'node:net';
import type { HeraldConfig } from '../config/schema.js';
import type { HttpListeners, Part } from '../server/part.js';
import { registerGuardAdminRoutes } from './admin-routes.js';
import type { GuardConfig } from '../config/guard.js';
import { Guard, type GuardEvents } from './guard.js';

export class GuardPart implements Part {
  readonly name = 'guard';
  readonly guard: Guard;

  constructor(config: GuardConfig, bus: Pick<HeraldConfig['bus'], 'url' | 'keyPrefix' | 'commandTimeoutMs'>, events: GuardEvents, now: () => number, msgLimit: number) {
    this.guard = new Guard(config, bus, events, now, msgLimit);
  }

  async register(http: HttpListeners): Promise<void> {
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

  async stop(): Promise<void> {
    await this.guard.close();
  }
}
