/**
 * Push state for operators, on the admin listener only: GET /admin/devices/stats and
 * GET /admin/messages/stats (`herald admin devices stats`, `herald admin messages stats`). Counts
 * only: never an id, an address or a payload.
 */
import type { FastifyInstance } from 'fastify';
import type { HousekeepingStore } from '../store/types.js';

export interface DeviceStatsView {
  devices: number;
  channels: number;
  devicesWithBacklog: number;
  largestBacklog: number;
  /** Devices with a socket open to this node now. */
  connectedHere: number;
}

export interface MessageStatsView {
  pending: number;
  pendingBytes: number;
  expiredAwaitingSweep: number;
  /** Seconds since the oldest pending message arrived; null when none is pending. */
  oldestPendingAgeSeconds: number | null;
}

export function registerPushAdminRoutes(app: FastifyInstance, store: Pick<HousekeepingStore, 'stats'>, connected: () => number, now: () => number): void {
  app.get('/admin/devices/stats', async (_request, reply) => {
    const stats = await store.stats(now());
    const view: DeviceStatsView = {
      devices: stats.devices,
      channels: stats.channels,
      devicesWithBacklog: stats.devicesWithBacklog,
      largestBacklog: stats.largestBacklog,
      connectedHere: connected(),
    };
    reply.header('cache-control', 'no-store').send(view);
  });

  app.get('/admin/messages/stats', async (_request, reply) => {
    const at = now();
    const stats = await store.stats(at);
    const view: MessageStatsView = {
      pending: stats.pendingMessages,
      pendingBytes: stats.pendingBytes,
      expiredAwaitingSweep: stats.expiredMessages,
      oldestPendingAgeSeconds: stats.oldestPendingAt === null ? null : Math.max(0, Math.floor((at - stats.oldestPendingAt) / 1000)),
    };
    reply.header('cache-control', 'no-store').send(view);
  });
}
