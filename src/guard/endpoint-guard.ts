/**
 * The guard as the sender endpoint uses it: each call throws the sender's 429 rateLimited with
 * a Retry-After, so routes.ts needs one line per check point (ban → token → VAPID → limits →
 * store; the backlog cap just before the message is stored). With in-memory counters the checks
 * of a POST far below its caps answer at once (no promise): they are a few µs of every message.
 */
import type { FastifyRequest } from 'fastify';
import { senderErrors, type SenderError, type SenderErrorCode } from '../http/sender-errors.js';
import type { Store } from '../store/types.js';
import type { BanReason } from './bans.js';
import type { BacklogReservation, Guard, MaybePromise, Refusal, RequestLimit, SendTarget } from './guard.js';
import type { Source } from './source.js';

export interface SenderGuard {
  /** Refuses a banned source before its token is even opened. */
  admit(request: FastifyRequest): MaybePromise<void>;
  limit(request: FastifyRequest, target: SendTarget): MaybePromise<void>;
  /** One per-source limit alone, for requests that name no subscription (GET/DELETE /m/:id, POST /v1/keys/revoke). */
  limitRequests(request: FastifyRequest, limit: RequestLimit): Promise<void>;
  /**
   * For a message that will be stored: refuses when the device's or the subscription's backlog is
   * full; else returns the release to call once the message is stored (or failed to be).
   */
  reserveBacklog(target: { uaid: string; channelId: string }, now: number, payloadBytes: number): MaybePromise<() => void>;
  /**
   * Every error answer passes here first, so bans can count invalid signatures and dead endpoints
   * (recorded before the answer, so the source's next request already sees its ban).
   */
  failed(request: FastifyRequest, error: SenderError): Promise<void>;
}

export function senderGuard(guard: Guard, store: Store): SenderGuard {
  // A forwarded request's source is resolved once (it may warn about an untrusted proxy); a plain
  // one is a lookup in the resolver's cache of peers, cheaper than remembering it per request.
  const forwardedSources = new WeakMap<FastifyRequest, Source>();
  const sourceOf = (request: FastifyRequest): Source => {
    const forwardedFor = request.headers['x-forwarded-for'];
    if (forwardedFor === undefined) return guard.source(request.socket.remoteAddress);
    let source = forwardedSources.get(request);
    if (!source) {
      source = guard.source(request.socket.remoteAddress, forwardedFor);
      forwardedSources.set(request, source);
    }
    return source;
  };
  return {
    admit(request) {
      return settle(guard.banned(sourceOf(request)), refuse);
    },
    limit(request, target) {
      return settle(guard.limitSend(sourceOf(request), target), refuse);
    },
    async limitRequests(request, limit) {
      refuse(await guard.limitRequests(sourceOf(request), limit));
    },
    reserveBacklog(target, now, payloadBytes) {
      const reserved = guard.reserveBacklog(store, target, now, payloadBytes);
      if (!(reserved instanceof Promise)) return releaseOf(reserved);
      return reserved.then(releaseOf, (error: unknown) => {
        throw senderErrors.error('storageUnavailable', { cause: error });
      });
    },
    async failed(request, error) {
      // Ban bookkeeping failing (Redis away) must not change what the sender hears.
      const reason = banReasonOf(error);
      if (reason) await guard.noteFailure(sourceOf(request), reason).catch(() => {});
    },
  };
}

/** `then` for a value that may be a promise: applied at once to a value, after it to a promise. */
function settle<T, R>(value: MaybePromise<T>, then: (settled: T) => R): MaybePromise<R> {
  return value instanceof Promise ? value.then(then) : then(value);
}

function releaseOf(reserved: BacklogReservation): () => void {
  if ('refusal' in reserved) refuse(reserved.refusal);
  return 'release' in reserved ? reserved.release : () => {};
}

function refuse(refusal: Refusal | null): void {
  if (refusal) throw senderErrors.error('rateLimited', { detail: refusal.detail, retryAfterSeconds: refusal.retryAfterSeconds });
}

/** Every 404 and 410 the sender endpoint answers: a scanner walking forged or dead endpoints. */
const DEAD_ENDPOINTS: readonly SenderErrorCode[] = ['invalidToken', 'messageNotFound', 'notFound', 'deviceGone', 'subscriptionGone', 'senderRevoked'];

/** Invalid signatures and dead endpoints are what a forged-signature flood or a scanner produces. */
function banReasonOf(error: SenderError): BanReason | null {
  if (senderErrors.is(error, 'unauthorized')) return 'invalid-signatures';
  if (senderErrors.is(error, ...DEAD_ENDPOINTS)) return 'dead-endpoints';
  return null;
}
