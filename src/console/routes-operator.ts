/**
 * Operators' pages (accounts given the role with `herald admin accounts operator <email>`):
 *   GET  /console/api/operator/overview   nodes and their load, bans, device and message counts,
 *                                         the sender blocklist (key hashes: public information)
 *   GET  /console/api/operator/nodes      the token server's nodes, a page at a time (?cursor, ?limit ≤ 100)
 *   GET  /console/api/operator/bans       the live bans, a page at a time (the overview has the first page of each)
 *   GET  /console/api/operator/blocklist  the blocked sender keys, newest first, a page at a time
 *   POST /console/api/operator/bans/lift  {source, password}
 * Counts only, as on the admin listener (src/push/admin-routes.ts): never a uaid or a payload.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toBase64Url } from '../crypto/base64.js';
import { confirmPassword, operator, parseBody, type ConsoleDeps } from './context.js';
import { blockedKeyCursor, DEFAULT_PAGE_SIZE, nodeCursor, pageInMemory, pageQuery, storePage, textKeyCodec, type PageQuery } from './paging.js';

const liftBody = z.object({ source: z.string().min(1).max(100), password: z.string().min(1).max(4096) }).strict();
const banCursor = textKeyCodec('bans');

export function registerOperatorRoutes(scope: FastifyInstance, deps: ConsoleDeps): void {
  scope.get('/operator/overview', async (request, reply) => {
    operator(request);
    reply.header('cache-control', 'no-store');
    return overview(deps);
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

  scope.get('/operator/blocklist', async (request, reply) => {
    operator(request);
    const { items, next } = await blocklistPage(deps, parseBody(pageQuery, request.query));
    reply.header('cache-control', 'no-store');
    return { blocklist: items, next };
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

async function overview(deps: ConsoleDeps) {
  const now = deps.now();
  const store = deps.pushStore();
  const first = { limit: DEFAULT_PAGE_SIZE };
  const [nodes, bans, stats, blocked, blockedTotal] = await Promise.all([
    nodesPage(deps, first),
    bansPage(deps, first),
    store.stats(now),
    blocklistPage(deps, first),
    store.countBlockedSenderKeys(),
  ]);
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
    // The newest page and the count; the rest through /operator/blocklist (a blocklist can be large).
    blocklist: { total: blockedTotal, newest: blocked.items, next: blocked.next },
  };
}

async function nodesPage(deps: ConsoleDeps, query: PageQuery) {
  const found = await storePage(nodeCursor, query, (keyset) => deps.store.listNodesPage(keyset), (node) => node.id);
  return { items: found.items.map(({ id, service, url, capacity, currentLoad, downed }) => ({ id, service, url, capacity, currentLoad, downed })), next: found.next };
}

/** Bans live in the guard (memory or Redis), not in a store: paged here, without sorting them all. */
async function bansPage(deps: ConsoleDeps, query: PageQuery) {
  const now = deps.now();
  const live = (await deps.guard.listBans()).filter((ban) => ban.expiresAt > now);
  const found = pageInMemory(live, query, banCursor, (ban) => ban.source);
  return { items: found.items.map((ban) => ({ source: ban.source, reason: ban.reason, remainingSeconds: Math.ceil((ban.expiresAt - now) / 1000) })), next: found.next };
}

async function blocklistPage(deps: ConsoleDeps, query: PageQuery) {
  const found = await storePage(blockedKeyCursor, query, (keyset) => deps.pushStore().listBlockedSenderKeysPage(keyset), (entry) => ({ at: entry.blockedAt, keyHash: entry.keyHash }));
  return {
    items: found.items.map((entry) => ({ keyHash: toBase64Url(entry.keyHash), source: entry.source, reason: entry.reason, blockedAt: entry.blockedAt })),
    next: found.next,
  };
}
