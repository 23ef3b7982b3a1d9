/**
 * Operators' pages (accounts given the role with `herald admin accounts operator <email>`):
 *   GET  /console/api/operator/overview   nodes and their load, bans, device and message counts,
 *                                         the sender blocklist (key hashes: public information)
 *   GET  /console/api/operator/nodes      the token server's nodes, a page at a time (?cursor, ?limit ≤ 100)
 *   GET  /console/api/operator/bans       the live bans, a page at a time (the overview has the first page of each)
 *   POST /console/api/operator/bans/lift  {source, password}
 * Counts only, as on the admin listener (src/push/admin-routes.ts): never a uaid or a payload.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toBase64Url } from '../crypto/base64.js';
import { confirmPassword, operator, parseBody, type ConsoleDeps } from './context.js';
import { DEFAULT_PAGE_SIZE, page, pageQuery, sortKey, type PageQuery } from './paging.js';

const liftBody = z.object({ source: z.string().min(1).max(100), password: z.string().min(1).max(4096) }).strict();
const BLOCKLIST_SHOWN = 200;

export function registerOperatorRoutes(scope: FastifyInstance, deps: ConsoleDeps): void {
  scope.get('/operator/overview', async (request, reply) => {
    operator(request);
    const now = deps.now();
    const store = deps.pushStore();
    const first = { limit: DEFAULT_PAGE_SIZE };
    const [nodes, bans, stats, blocked] = await Promise.all([nodesPage(deps, first), bansPage(deps, first), store.stats(now), store.listBlockedSenderKeys()]);
    reply.header('cache-control', 'no-store');
    return {
      nodes: nodes.items,
      nodesNext: nodes.next,
      bans: bans.items,
      bansNext: bans.next,
      devices: { devices: stats.devices, channels: stats.channels, devicesWithBacklog: stats.devicesWithBacklog, largestBacklog: stats.largestBacklog, connectedHere: deps.connectedHere() },
      messages: {
        pending: stats.pendingMessages,
        pendingBytes: stats.pendingBytes,
        expiredAwaitingSweep: stats.expiredMessages,
        oldestPendingAgeSeconds: stats.oldestPendingAt === null ? null : Math.max(0, Math.floor((now - stats.oldestPendingAt) / 1000)),
      },
      blocklist: {
        total: blocked.length,
        newest: blocked
          .slice(-BLOCKLIST_SHOWN)
          .reverse()
          .map((entry) => ({ keyHash: toBase64Url(entry.keyHash), source: entry.source, reason: entry.reason, blockedAt: entry.blockedAt })),
      },
    };
  });

  scope.get('/operator/nodes', async (request, reply) => {
    operator(request);
    const { items, next } = await nodesPage(deps, parseBody(pageQuery, request.query));
    reply.header('cache-control', 'no-store');
    return { nodes: items, next };
  });

  scope.get('/operator/bans', async (request, reply) => {
    operator(request);
    const { items, next } = await bansPage(deps, parseBody(pageQuery, request.query));
    reply.header('cache-control', 'no-store');
    return { bans: items, next };
  });

  scope.post('/operator/bans/lift', async (request) => {
    const who = operator(request);
    const body = parseBody(liftBody, request.body);
    await confirmPassword(deps, request, who, body.password);
    const result = await deps.guard.liftBan(body.source);
    deps.audit({ lifted: result.lifted }, 'audit: a ban was lifted in the web console');
    return result;
  });
}

async function nodesPage(deps: ConsoleDeps, query: PageQuery) {
  const found = page(await deps.store.listNodes(), (node) => sortKey(node.id, ''), query);
  return { items: found.items.map(({ id, service, url, capacity, currentLoad, downed }) => ({ id, service, url, capacity, currentLoad, downed })), next: found.next };
}

async function bansPage(deps: ConsoleDeps, query: PageQuery) {
  const now = deps.now();
  const live = (await deps.guard.listBans()).filter((ban) => ban.expiresAt > now);
  const found = page(live, (ban) => ban.source, query);
  return { items: found.items.map((ban) => ({ source: ban.source, reason: ban.reason, remainingSeconds: Math.ceil((ban.expiresAt - now) / 1000) })), next: found.next };
}
