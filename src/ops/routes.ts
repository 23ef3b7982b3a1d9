import { createHash, timingSafeEqual } from 'node:crypto';
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

/**
 * GET /metrics. With `bearerToken`, only requests that carry it get the metrics (compared in
 * constant time); every other one is answered 404, as if the route did not exist.
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics, bearerToken: string | null = null): void {
  const expected = bearerToken === null ? null : digest(bearerToken);
  app.get('/metrics', async (request, reply) => {
    if (expected !== null && !presents(request.headers.authorization, expected)) {
      return reply.code(404).send({ code: 404, errno: 102, error: 'Not Found', message: 'Not found' });
    }
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Hashing first gives equal lengths, so the comparison is constant-time whatever was sent. */
function presents(authorization: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1] as string), expected);
}
