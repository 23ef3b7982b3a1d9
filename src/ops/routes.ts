import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { DependencyState } from '../redis/health.js';
import type { StoreLifecycle } from '../store/types.js';
import type { Metrics } from './metrics.js';
import { VERSION_INFO } from './version.js';

export interface HealthChecks {
  storage: Pick<StoreLifecycle, 'ping'>;
  /** The bus (Redis presence and deliveries between nodes). */
  bus(): DependencyState;
  /** The guard's shared limits and bans (Redis). */
  limits(): DependencyState;
  /** A storage ping failed or timed out (the storage outage log hears of it). */
  storageFailed?(error: unknown): void;
}

/** A storage ping slower than this counts as a failure: a load balancer's check must get an answer. */
const STORAGE_PING_TIMEOUT_MS = 3000;

const SHOWN: Record<DependencyState, string> = { ok: 'OK', down: 'DOWN', local: 'LOCAL' };

/**
 * Dockerflow health routes (protocol.md §3). /__heartbeat__ names each dependency's state and is
 * 503 only when storage fails: without storage nothing can be accepted, so a load balancer should
 * take the node out. Redis down is 200 "DEGRADED": every node shares one Redis, and taking them
 * all out would turn a degraded service (per-node limits, cross-node messages delivered from
 * storage) into no service at all (docs/operations.md).
 */
export function registerHealthRoutes(app: FastifyInstance, checks: HealthChecks): void {
  app.get('/__lbheartbeat__', async () => ({}));
  app.get('/__version__', async () => VERSION_INFO);
  app.get('/__heartbeat__', async (_request, reply) => {
    const storage = await pingWithin(checks.storage, STORAGE_PING_TIMEOUT_MS).then(
      () => 'OK',
      (error: unknown) => {
        checks.storageFailed?.(error);
        return 'ERROR';
      },
    );
    const bus = checks.bus();
    const limits = checks.limits();
    const degraded = bus === 'down' || limits === 'down';
    const status = storage === 'ERROR' ? 'ERROR' : degraded ? 'DEGRADED' : 'OK';
    return reply.code(storage === 'ERROR' ? 503 : 200).send({ status, storage, bus: SHOWN[bus], limits: SHOWN[limits] });
  });
}

async function pingWithin(store: Pick<StoreLifecycle, 'ping'>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`storage did not answer a ping within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([store.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
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
