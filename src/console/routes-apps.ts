/**
 * Apps: a VAPID key pair an account owns. Herald generates it and shows the private key once (it
 * is never stored); revoking puts the key on the sender blocklist (src/push/revocation/), which
 * refuses its next push at once on this node. Revoke and delete ask for the password again.
 *   GET  /console/api/apps               the account's apps, a page at a time (?cursor, ?limit ≤ 100), each
 *                                        with its subscription count (channels bound to its key)
 *   POST /console/api/apps               {name} → the app and its private key, once
 *   POST /console/api/apps/import        {name, publicKey, proof} → an app for a key made elsewhere; proof: a
 *                                        VAPID JWT the key signed for this Herald, since a public key is
 *                                        public and its app's charts are not
 *   POST /console/api/apps/:id/revoke    {password}
 *   POST /console/api/apps/:id/delete    {password} (a revoked key stays blocked)
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppRecord } from '../accounts/console-records.js';
import { fromBase64Url, toBase64Url } from '../crypto/base64.js';
import { generateVapidKeyPair, sha256, verifyVapidJwt } from '../crypto/vapid.js';
import { confirmPassword, parseBody, signedIn, type ConsoleDeps } from './context.js';
import { consoleErrors } from './errors.js';
import { pageQuery, storePage, timeKeyCodec } from './paging.js';

const createBody = z.object({ name: z.string().trim().min(1).max(100) }).strict();
const importBody = z.object({ name: z.string().trim().min(1).max(100), publicKey: z.string().max(1000), proof: z.string().max(4096) }).strict();
const passwordBody = z.object({ password: z.string().min(1).max(4096) }).strict();
const APP_ID = /^[0-9a-f]{32}$/;
const appCursor = timeKeyCodec('apps');
const appKey = (app: AppRecord) => ({ at: app.createdAt, id: app.id });

export interface AppView {
  id: string;
  name: string;
  publicKey: string;
  /** base64url SHA-256 of the public key: how the blocklist and `herald keys block` name it. */
  keyHash: string;
  createdAt: number;
  revokedAt: number | null;
}

/** An app as the list shows it: with how many subscriptions (v2 channels) are bound to its key now. */
export interface ListedApp extends AppView {
  subscriptions: number;
}

export function keyHashOf(publicKey: string): Buffer {
  return sha256(fromBase64Url(publicKey) ?? Buffer.alloc(0));
}

function view(app: AppRecord): AppView {
  return { id: app.id, name: app.name, publicKey: app.publicKey, keyHash: toBase64Url(keyHashOf(app.publicKey)), createdAt: app.createdAt, revokedAt: app.revokedAt };
}

export async function appOf(deps: ConsoleDeps, accountId: string, id: string): Promise<AppRecord> {
  const app = APP_ID.test(id) ? await deps.store.console.appById(accountId, id) : null;
  if (!app) throw consoleErrors.error('appNotFound');
  return app;
}

export function registerAppRoutes(scope: FastifyInstance, deps: ConsoleDeps): void {
  scope.get('/apps', async (request, reply) => {
    const { account } = signedIn(request);
    const query = parseBody(pageQuery, request.query);
    reply.header('cache-control', 'no-store');
    const { items, next } = await storePage(appCursor, query, (keyset) => deps.store.console.listAppsPage(account.id, keyset), appKey);
    // Counted for the page shown only (at most 100 indexed counts), never for every app of the account.
    const apps: ListedApp[] = await Promise.all(
      items.map(async (app) => ({ ...view(app), subscriptions: await deps.pushStore().countChannelsBySenderKey(keyHashOf(app.publicKey)) })),
    );
    return { apps, next };
  });

  scope.post('/apps', async (request, reply) => {
    const { account } = signedIn(request);
    const { name } = parseBody(createBody, request.body);
    const keys = generateVapidKeyPair();
    const app: AppRecord = { id: randomBytes(16).toString('hex'), accountId: account.id, name, publicKey: keys.publicKey, createdAt: deps.now(), revokedAt: null };
    await deps.store.console.createApp(app);
    reply.code(201).header('cache-control', 'no-store');
    // The only time the private key leaves Herald; it is not kept.
    return { app: view(app), privateKey: keys.privateKey };
  });

  scope.post('/apps/import', async (request, reply) => {
    const { account } = signedIn(request);
    const { name, publicKey, proof } = parseBody(importBody, request.body);
    const point = checkPublicKey(publicKey);
    // The JWT alone, or the whole `vapid t=…, k=…` header a sender sends (what people can copy).
    const jwt = /(?:^|[\s,])t=([^,\s]+)/.exec(proof)?.[1] ?? proof.trim();
    const verified = verifyVapidJwt(jwt, point, { audience: deps.pushOrigin(), nowSeconds: Math.floor(deps.now() / 1000) });
    if (!verified.ok) throw consoleErrors.error('importUnproven', { detail: verified.reason });
    const app: AppRecord = { id: randomBytes(16).toString('hex'), accountId: account.id, name, publicKey: toBase64Url(point), createdAt: deps.now(), revokedAt: null };
    await deps.store.console.createApp(app);
    reply.code(201).header('cache-control', 'no-store');
    return { app: view(app) };
  });

  scope.post<{ Params: { id: string } }>('/apps/:id/revoke', async (request) => {
    const who = signedIn(request);
    const { password } = parseBody(passwordBody, request.body);
    const app = await appOf(deps, who.account.id, request.params.id);
    await confirmPassword(deps, request, who, password);
    const now = deps.now();
    const keyHash = keyHashOf(app.publicKey);
    const newlyBlocked = await deps.blocklist().block({ keyHash, source: 'holder', reason: 'revoked in the web console', blockedAt: now });
    await deps.store.console.markAppRevoked(who.account.id, app.id, now);
    deps.audit({ keyHash: toBase64Url(keyHash), newlyBlocked }, 'audit: sender key revoked in the web console');
    return { app: view({ ...app, revokedAt: app.revokedAt ?? now }) };
  });

  scope.post<{ Params: { id: string } }>('/apps/:id/delete', async (request, reply) => {
    const who = signedIn(request);
    const { password } = parseBody(passwordBody, request.body);
    const app = await appOf(deps, who.account.id, request.params.id);
    await confirmPassword(deps, request, who, password);
    await deps.store.console.deleteApp(who.account.id, app.id);
    reply.code(204).send();
  });
}

/** An imported VAPID public key, as the endpoint will read it, or 400 errno 632 saying what is wrong. */
export function checkPublicKey(text: string): Buffer {
  const invalid = (detail: string) => consoleErrors.error('invalidPublicKey', { detail });
  const point = fromBase64Url(text.trim().replace(/=+$/, ''));
  if (!point) throw invalid('the key is not base64url');
  if (point.length !== 65) throw invalid(`the key is ${point.length} bytes, not 65`);
  if (point[0] !== 0x04) throw invalid('the key is not an uncompressed point (its first byte is not 0x04)');
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: toBase64Url(point.subarray(1, 33)), y: toBase64Url(point.subarray(33)) }, format: 'jwk' });
  } catch {
    throw invalid('the point is not on the P-256 curve');
  }
  return point;
}
