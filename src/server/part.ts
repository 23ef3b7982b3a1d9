/**
 * What every part of Herald offers the composition root (src/app.ts): routes on the listeners it
 * serves, a start and a stop. Parts are built from config by their own folders, started in the
 * order app.ts lists them and stopped in reverse, so a part may use the parts listed before it.
 */
import type { FastifyInstance } from 'fastify';

/** The HTTP listeners a part may add routes to. */
export interface HttpListeners {
  /** The device listener: WebSocket upgrades and the identity servers. Public. */
  readonly devices: FastifyInstance;
  /** The sender endpoint; the same instance as `devices` when one port serves both. Public. */
  readonly endpoint: FastifyInstance;
  /** The operators' listener (server.adminPort, loopback by default); null when not configured. */
  readonly admin: FastifyInstance | null;
  /** Each public listener once (health routes go on every one of them). */
  readonly public: readonly FastifyInstance[];
}

export interface Part {
  /** For logs and errors: "storage", "push", … */
  readonly name: string;
  /** Opens what the part needs (storage, connections). Runs before any part registers routes. */
  start?(): Promise<void>;
  /** Adds the part's routes and upgrade handlers; runs after every part started, before listening. */
  register?(http: HttpListeners): Promise<void>;
  /** Runs once the listeners accept connections (timers that should not run before, …). */
  listening?(): void;
  /** Releases what start opened. Called in reverse order, also for a part whose start failed later on. */
  stop?(): Promise<void>;
}
