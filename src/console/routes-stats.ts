/**
 * An app's charts (docs/console.md):
 *   GET /console/api/apps/:id/stats?range=hours|days
 * per hour over the last 48 hours, or per day (UTC) over the last 30 days: messages accepted,
 * delivered (acked by the device, code 100), stored (kept for a device away), expired (TTL=0 with
 * the device away, or deleted by the expiry sweep before the device fetched them) and refused
 * (after the app's VAPID signature verified), and p50/p99 of the time from the POST's arrival to
 * the device's ack, from the hourly rows src/ops/app-stats.ts flushes.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { addCounts, emptyRow, hourOf, quantileMs } from '../ops/app-stats.js';
import type { AppStatsRow } from '../store/types.js';
import { parseBody, signedIn, type ConsoleDeps } from './context.js';
import { appOf, keyHashOf } from './routes-apps.js';

const query = z.object({ range: z.enum(['hours', 'days']).default('hours') }).strict();
const RANGES = { hours: { buckets: 48, hours: 1 }, days: { buckets: 30, hours: 24 } } as const;

export interface StatsBucket {
  /** The bucket's start, ms since the epoch (UTC). */
  start: number;
  accepted: number;
  delivered: number;
  stored: number;
  expired: number;
  refused: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export function registerStatsRoutes(scope: FastifyInstance, deps: ConsoleDeps): void {
  scope.get<{ Params: { id: string } }>('/apps/:id/stats', async (request, reply) => {
    const { account } = signedIn(request);
    const { range } = parseBody(query, request.query);
    const app = await appOf(deps, account.id, request.params.id);
    const { buckets, hours } = RANGES[range];
    const toHour = (Math.floor(hourOf(deps.now()) / hours) + 1) * hours;
    const fromHour = toHour - buckets * hours;
    const rows = await deps.pushStore().appStats.appStats(keyHashOf(app.publicKey), fromHour, toHour);
    reply.header('cache-control', 'no-store');
    return { range, buckets: bucketize(rows, fromHour, buckets, hours) };
  });
}

/** Hourly rows added up into `count` buckets of `hours` each, from `fromHour`; empty buckets are zeros. */
export function bucketize(rows: readonly AppStatsRow[], fromHour: number, count: number, hours: number): StatsBucket[] {
  const sums = Array.from({ length: count }, (_, i) => emptyRow(Buffer.alloc(0), fromHour + i * hours));
  for (const row of rows) {
    const sum = sums[Math.floor((row.hour - fromHour) / hours)];
    if (sum) addCounts(sum, row);
  }
  return sums.map((sum) => ({
    start: sum.hour * 3_600_000,
    accepted: sum.accepted,
    delivered: sum.delivered,
    stored: sum.stored,
    expired: sum.expired,
    refused: sum.refused,
    p50Ms: quantileMs(sum.latency, 0.5),
    p99Ms: quantileMs(sum.latency, 0.99),
  }));
}
