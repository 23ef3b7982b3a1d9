/**
 * Tools for app developers:
 *   POST /console/api/push          {subscription, text, appId?, privateKey?, ttl?} → Herald's answer
 *   GET  /console/api/push/status   ?location=<the /m/… URL> → pending / gone, as GET /m/:id says
 *   POST /console/api/vapid/check   {authorization} or {jwt, publicKey} → which check fails
 * Test pushes are sent server-side with the sender library `herald send` uses, and only to this
 * Herald's own endpoint origin: the console must not become a way to make Herald fetch other hosts.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { sendNotification, type VapidDetails } from '../client/sender.js';
import { parseSubscription, SubscriptionError, type SubscriptionInput } from '../client/subscription.js';
import { signVapidJwt, verifyVapidJwt } from '../crypto/vapid.js';
import { fromBase64Flexible } from '../crypto/base64.js';
import { parseBody, signedIn, type ConsoleDeps } from './context.js';
import { consoleErrors } from './errors.js';
import { appOf } from './routes-apps.js';
import { diagnoseVapid } from './vapid-diagnosis.js';

const pushBody = z
  .object({
    subscription: z.unknown(),
    text: z.string().max(3993),
    appId: z.string().max(64).optional(),
    privateKey: z.string().max(200).optional(),
    ttl: z.number().int().min(0).max(86_400).optional(),
  })
  .strict();
const statusQuery = z.object({ location: z.string().max(2048) }).strict();
const vapidBody = z
  .object({
    authorization: z.string().max(9000).optional(),
    cryptoKey: z.string().max(2000).optional(),
    jwt: z.string().max(9000).optional(),
    publicKey: z.string().max(200).optional(),
  })
  .strict();

/** Console test pushes say who sent them (RFC 8292 sub). */
const SUBJECT = 'mailto:console@herald.invalid';
const TIMEOUT_MS = 10_000;

export function registerToolRoutes(scope: FastifyInstance, deps: ConsoleDeps, clockSkewSeconds: number): void {
  scope.post('/push', async (request) => {
    const { account } = signedIn(request);
    const body = parseBody(pushBody, request.body);
    const subscription = ownSubscription(deps, body.subscription);
    let vapid: VapidDetails | undefined;
    if (body.appId !== undefined) {
      const app = await appOf(deps, account.id, body.appId);
      if (!body.privateKey || !keyPairMatches(app.publicKey, body.privateKey, deps.pushOrigin())) throw consoleErrors.error('keyMismatch');
      vapid = { publicKey: app.publicKey, privateKey: body.privateKey, subject: SUBJECT };
    }
    let result;
    try {
      result = await sendNotification(subscription, body.text === '' ? null : body.text, { ttl: body.ttl ?? 60, ...(vapid ? { vapid } : {}) });
    } catch (error) {
      if (error instanceof SubscriptionError) throw consoleErrors.error('invalidSubscription', { detail: error.message });
      throw consoleErrors.error('endpointUnreachable', { cause: error });
    }
    return { status: result.status, location: result.location, ttl: result.ttl, error: envelopeOf(result.body) };
  });

  scope.get('/push/status', async (request, reply) => {
    signedIn(request);
    const { location } = parseBody(statusQuery, request.query);
    const url = ownUrl(deps, location);
    if (!url || !url.pathname.startsWith('/m/')) throw consoleErrors.error('foreignEndpoint');
    let answer: Response;
    try {
      answer = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (error) {
      throw consoleErrors.error('endpointUnreachable', { cause: error });
    }
    const text = await answer.text();
    reply.header('cache-control', 'no-store');
    const json = parseJson(text);
    return { httpStatus: answer.status, status: typeof json?.status === 'string' ? json.status : null, ttl: typeof json?.ttl === 'number' ? json.ttl : null, error: answer.ok ? null : envelopeOf(text) };
  });

  scope.post('/vapid/check', async (request) => {
    signedIn(request);
    const body = parseBody(vapidBody, request.body);
    if (body.authorization === undefined && (body.jwt === undefined || body.publicKey === undefined)) {
      throw consoleErrors.error('invalidRequest', { detail: 'send authorization, or jwt and publicKey' });
    }
    return diagnoseVapid(body, deps.pushOrigin(), Math.floor(deps.now() / 1000), clockSkewSeconds);
  });
}

function ownSubscription(deps: ConsoleDeps, value: unknown): SubscriptionInput {
  let subscription: SubscriptionInput;
  try {
    subscription = parseSubscription(typeof value === 'string' ? parseJson(value) : value);
  } catch (error) {
    throw consoleErrors.error('invalidSubscription', { detail: error instanceof SubscriptionError ? error.message : 'not a subscription' });
  }
  if (!ownUrl(deps, subscription.endpoint)) throw consoleErrors.error('foreignEndpoint');
  return subscription;
}

function ownUrl(deps: ConsoleDeps, text: string): URL | null {
  try {
    const url = new URL(text);
    return url.origin === deps.pushOrigin() && url.username === '' && url.password === '' ? url : null;
  } catch {
    return null;
  }
}

/** Whether `privateKey` signs what `publicKey` verifies (the pasted key is the app's). */
function keyPairMatches(publicKey: string, privateKey: string, audience: string): boolean {
  const raw = fromBase64Flexible(publicKey);
  if (!raw) return false;
  try {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const jwt = signVapidJwt({ audience, expiresAt: nowSeconds + 60, publicKey, privateKey });
    return verifyVapidJwt(jwt, raw, { audience, nowSeconds }).ok;
  } catch {
    return false;
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Herald's error envelope from an answer body, when it is one. */
function envelopeOf(text: string): { errno: number; message: string } | null {
  const json = parseJson(text);
  return json && typeof json.errno === 'number' && typeof json.message === 'string' ? { errno: json.errno, message: json.message } : null;
}
