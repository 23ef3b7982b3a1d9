import type { FastifyInstance } from 'fastify';
import type { StoreLifecycle } from '../store/types.js';
import type { Metrics } from './metrics.js';
import { VERSION_INFO } from './version.js';

/** Dockerflow health routes (protocol.md §3). */
export function registerHealthRoutes(app: FastifyInstance, store: Pick<StoreLifecycle, 'ping'>): void {
  app.get('/__lbheartbeat__', async () => ({}));
  app.get('/__version__', async () => VERSION_INFO);
  app.get('/__heartbeat__', async (_request, reply) => {
    try {
      await store.ping();
      return { status: 'OK', storage: 'OK' };
    } catch {
      return reply.code(503).send({ status: 'ERROR', storage: 'ERROR' });
    }
  });
}

export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
