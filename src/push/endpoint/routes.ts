/**
 * The sender endpoint (protocol.md §2): POST /wpush/{v1,v2}/:token, DELETE and GET /m/:messageId.
 * Checks run in the documented order: token → VAPID → subscription exists → body and headers.
 * GET on an endpoint is UnifiedPush's discovery (docs/unifiedpush.md); other methods answer 405.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyRing } from '../../crypto/keyring.js';
import { newMessageId, openEndpointToken, openMessageId, sealMessageId, type EndpointTokenContents } from '../../crypto/tokens.js';
import { SubscriptionMissingError, type Store } from '../../store/types.js';
import { handleErrors } from '../../http/errors.js';
import { senderErrors, type SenderError } from '../../http/sender-errors.js';
import type { Bus } from '../delivery/bus.js';
import { acceptMessage, type Outcome } from '../delivery/accept.js';
import { parseEncryption, parseTopic, parseTtl, parseUrgency, storedBytes } from './message-headers.js';
import { senderKeyMatches, type VapidChecker, type VerifiedSender } from './vapid-check.js';
import type { SenderKeyCheck } from '../revocation/blocklist.js';
import { refuseBlockedSender } from '../revocation/refuse-blocked.js';
import { registerRevokeRoute, type RevokeRouteDeps } from '../revocation/revoke-route.js';
import type { SenderGuard } from '../../guard/endpoint-guard.js';

export interface EndpointDeps {
  store: Store;
  bus: Bus;
  endpointTokens: KeyRing;
  messageIds: KeyRing;
  vapid: VapidChecker;
  /** The endpoint origin (scheme, host, port) for Location URLs. */
  origin: () => string;
  maxTtlSeconds: number;
  maxBodyBytes: number;
  now(): number;
  observe?: EndpointObserver;
  /** Revoked and blocked sender keys (refused on the POST path). */
  blocklist?: SenderKeyCheck;
  /** Serves POST /v1/keys/revoke when given. */
  revocation?: RevokeRouteDeps;
  /** Rate limits, bans and backlog caps (src/guard); absent: none. */
  guard?: SenderGuard;
}

export interface EndpointObserver {
  /** `senderKeyHash`: the verified VAPID key's hash, null without VAPID (per-app stats). */
  accepted?(outcome: Outcome, seconds: number, senderKeyHash: Buffer | null): void;
  /** `cause` is the underlying error for 5xx answers (storage, internal), for the error log; `refusedSender` the verified VAPID key of a refused (4xx) push. */
  failed?(errno: number, cause?: unknown, refusedSender?: Buffer): void;
  /** The sender closed the connection before its body arrived whole: its failure, not an error. */
  aborted?(): void;
}

/** The sender key whose signature a request's VAPID proved, so a refusal counts under it (per-app stats). */
const verifiedSenders = new WeakMap<FastifyRequest, Buffer>();

/** Bodies above this are not even read; between maxBodyBytes and it, 413 comes in check order. */
const HARD_BODY_LIMIT = 64 * 1024;

export async function registerEndpointRoutes(app: FastifyInstance, deps: EndpointDeps): Promise<void> {
  await app.register(async (scope) => {
    // Push bodies are opaque ciphertext whatever Content-Type says: read every one as bytes.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: HARD_BODY_LIMIT }, (_request, body, done) => {
      done(null, body);
    });

    handleErrors(scope, senderErrors, {
      requestError: (error) => requestFailure(error, deps.maxBodyBytes),
      internalError: (thrown) => senderErrors.error('internal', { cause: thrown }),
      notFound: () => senderErrors.error('notFound'),
      failed: async (failure, request, thrown) => {
        // Nobody is left to answer, and counting it as errno 999 would let anyone fake error alerts.
        if (uploadAborted(request, thrown)) return deps.observe?.aborted?.();
        await deps.guard?.failed(request, failure);
        deps.observe?.failed?.(failure.definition.errno, failure.status >= 500 ? (failure.cause ?? thrown) : undefined, failure.status < 500 ? verifiedSenders.get(request) : undefined);
      },
    });

    const endpoints: Array<[string, 1 | 2]> = [['/wpush/v1/:token', 1], ['/wpush/v2/:token', 2], ['/wpush/:token', 1]];
    for (const [url, version] of endpoints) {
      scope.post<{ Params: { token: string } }>(url, (request, reply) => pushMessage(deps, version, request, reply));
      scope.get<{ Params: { token: string } }>(url, (request, reply) => discover(deps, version, request, reply));
      scope.route({
        method: ['PUT', 'PATCH', 'DELETE'],
        url,
        handler: async (_request, reply) => {
          reply.header('allow', 'GET, POST');
          throw senderErrors.error('methodNotAllowed');
        },
      });
    }
    scope.delete<{ Params: { id: string } }>('/m/:id', (request, reply) => deleteMessage(deps, request, reply));
    scope.get<{ Params: { id: string } }>('/m/:id', (request, reply) => messageStatus(deps, request, reply));
    if (deps.revocation) registerRevokeRoute(scope, deps.revocation, deps.guard);
  });
}

async function pushMessage(
  deps: EndpointDeps,
  version: 1 | 2,
  request: FastifyRequest<{ Params: { token: string } }>,
  reply: FastifyReply,
): Promise<void> {
  const started = process.hrtime.bigint();
  const now = deps.now();
  await deps.guard?.admit(request);

  // 1. token
  const contents = openEndpointToken(deps.endpointTokens, version, request.params.token);
  if (!contents) throw senderErrors.error('invalidToken');

  // 2. VAPID: optional on v1 (checked when present), required on v2 and bound to the sealed key.
  const headers = request.headers;
  const sender = checkVapid(deps, version, contents, headers, now);
  if (sender && deps.observe?.failed) verifiedSenders.set(request, sender.keyHash);

  // 2b. a revoked or blocked sender key (docs/security.md)
  if (sender && deps.blocklist) await refuseBlockedSender(deps.blocklist, sender.keyHash, version);
  // Limits count only requests that name a real target and pass VAPID (design.md: token → VAPID → limits → store).
  await deps.guard?.limit(request, { uaid: contents.uaid, channelId: contents.channelId, senderKeyHash: sender?.keyHash ?? null });

  // 3. subscription
  await requireSubscription(deps.store, contents);

  // 4. body and headers
  const { body, ttl, topic, urgency, forwarded } = readMessage(deps, request.body, headers);

  const release = ttl > 0 ? await deps.guard?.reserveBacklog(contents, now, storedBytes(body, forwarded)) : undefined;

  const id = newMessageId();
  const message = {
    id,
    uaid: contents.uaid,
    channelId: contents.channelId,
    topic,
    urgency,
    ttl,
    receivedAt: now,
    expiresAt: now + ttl * 1000,
    data: forwarded ? body : null,
    headers: forwarded,
  };
  const outcome = await acceptMessage(deps.store, deps.bus, message, boundSenderKey(contents, sender))
    .catch((error: unknown) => {
      if (error instanceof SubscriptionMissingError) throw senderErrors.error('subscriptionGone');
      throw senderErrors.error('storageUnavailable', { cause: error });
    })
    .finally(() => release?.());

  const location = `${deps.origin()}/m/${sealMessageId(deps.messageIds, { uaid: contents.uaid, channelId: contents.channelId, messageId: id })}`;
  deps.observe?.accepted?.(outcome, Number(process.hrtime.bigint() - started) / 1e9, sender?.keyHash ?? null);
  // 201 also when TTL=0 found the device away and the message was dropped: senders rely on it.
  reply.code(201).header('location', location).header('ttl', String(ttl)).send();
}

/**
 * The key a v2 subscription is bound to, travelling with the message to the device's ack (per-app
 * "delivered"). It is the verified sender's Buffer (checkVapid proved the bytes equal), which the
 * VAPID cache hands out for every push under one JWT: the stats counter finds it by identity.
 */
function boundSenderKey(contents: EndpointTokenContents, sender: VerifiedSender | null): Buffer | null {
  return contents.senderKeyHash !== null && sender !== null ? sender.keyHash : null;
}

/** The VAPID signature, if any: optional on v1 (checked when present), required on v2 and bound to the sealed key. */
function checkVapid(deps: EndpointDeps, version: 1 | 2, contents: EndpointTokenContents, headers: FastifyRequest['headers'], now: number): VerifiedSender | null {
  const sender = deps.vapid.check(headers.authorization, single(headers['crypto-key']), Math.floor(now / 1000));
  if (version === 2) {
    if (!sender) throw senderErrors.error('unauthorized', { detail: 'a v2 endpoint requires VAPID' });
    if (!contents.senderKeyHash || !senderKeyMatches(contents.senderKeyHash, sender.keyHash)) {
      throw senderErrors.error('unauthorized', { detail: 'the VAPID key is not the one this subscription is bound to' });
    }
  }
  return sender;
}

/** The body (within push.maxBodyBytes) and the message headers, each checked (message-headers.ts). */
function readMessage(deps: EndpointDeps, raw: unknown, headers: FastifyRequest['headers']) {
  const body = raw instanceof Buffer && raw.length > 0 ? raw : null;
  if (body && body.length > deps.maxBodyBytes) {
    throw senderErrors.error('bodyTooLarge', { detail: `at most ${deps.maxBodyBytes} bytes` });
  }
  return {
    body,
    ttl: parseTtl(headers.ttl, deps.maxTtlSeconds),
    topic: parseTopic(headers.topic),
    urgency: parseUrgency(headers.urgency),
    forwarded: parseEncryption(body, { contentEncoding: headers['content-encoding'], encryption: headers.encryption, cryptoKey: headers['crypto-key'] }),
  };
}

/**
 * UnifiedPush discovery (SERV_1.2.0): GET on a valid endpoint answers {"unifiedpush":{"version":1}},
 * so an application server can check that a URL it was handed is a push endpoint (SSRF). The same
 * token and subscription checks as a POST, and the same answers when they fail; no VAPID needed.
 */
async function discover(
  deps: EndpointDeps,
  version: 1 | 2,
  request: FastifyRequest<{ Params: { token: string } }>,
  reply: FastifyReply,
): Promise<void> {
  await deps.guard?.admit(request);
  await deps.guard?.limitRequests(request, 'source');
  const contents = openEndpointToken(deps.endpointTokens, version, request.params.token);
  if (!contents) throw senderErrors.error('invalidToken');
  await requireSubscription(deps.store, contents);
  reply.code(200).header('cache-control', 'no-store').send({ unifiedpush: { version: 1 } });
}

async function requireSubscription(store: Store, contents: EndpointTokenContents): Promise<void> {
  const channel = await storageCall(() => store.getChannel(contents.uaid, contents.channelId));
  if (!channel) {
    const device = await storageCall(() => store.getDevice(contents.uaid));
    throw senderErrors.error(device ? 'subscriptionGone' : 'deviceGone');
  }
  // A channel re-registered with another key (or none) retires the endpoints of its old binding.
  const bound = channel.senderKeyHash;
  const sealed = contents.senderKeyHash;
  const same = bound === null || sealed === null ? bound === sealed : senderKeyMatches(bound, sealed);
  if (!same) throw senderErrors.error('subscriptionGone');
}

async function deleteMessage(deps: EndpointDeps, request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply): Promise<void> {
  // Banned sources are refused here too, and each request costs a store query: the per-source limit.
  await deps.guard?.admit(request);
  await deps.guard?.limitRequests(request, 'source');
  const contents = openMessageId(deps.messageIds, request.params.id);
  if (!contents) throw senderErrors.error('messageNotFound');
  await storageCall(() => deps.store.deleteMessage(contents.uaid, contents.messageId));
  // Idempotent: deleting a message that was already delivered or expired is not an error.
  reply.code(204).send();
}

async function messageStatus(deps: EndpointDeps, request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply): Promise<void> {
  await deps.guard?.admit(request);
  await deps.guard?.limitRequests(request, 'source');
  const contents = openMessageId(deps.messageIds, request.params.id);
  if (!contents) throw senderErrors.error('messageNotFound');
  const message = await storageCall(() => deps.store.getMessage(contents.uaid, contents.messageId, deps.now()));
  // Says nothing about the device: only whether this message still waits.
  if (!message) return reply.code(200).send({ status: 'gone' });
  reply.code(200).send({ status: 'pending', ttl: Math.max(0, Math.round((message.expiresAt - deps.now()) / 1000)) });
}

async function storageCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw senderErrors.error('storageUnavailable', { cause: error });
  }
}

/** fastify's own refusals: a body past the hard limit is 413 like one past maxBodyBytes, the rest 400. */
function requestFailure(error: FastifyError, maxBodyBytes: number): SenderError {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) return senderErrors.error('bodyTooLarge', { detail: `at most ${maxBodyBytes} bytes` });
  return senderErrors.error('badRequest');
}

/**
 * Node fails a body read with `aborted` (ECONNRESET) when the peer closed mid-body, or when the
 * HTTP parser met a chunked body that does not parse (it answers 400 and closes the socket itself).
 */
function uploadAborted(request: FastifyRequest, thrown: unknown): boolean {
  return request.raw.aborted || (thrown as { code?: unknown } | null)?.code === 'ECONNRESET';
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
