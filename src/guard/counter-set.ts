/**
 * The guard's counters and ban list, built once on one CounterFactory: in memory, or in Redis once
 * the guard has started on a Redis bus. Only the limits that can trip are built (a window with 0
 * points is no limit), so a POST checks nothing it need not.
 */
import type { GuardConfig } from '../config/guard.js';
import { MemoryBanList, RedisBanList, type BanList, type BanReason } from './bans.js';
import type { Counter, CounterFactory } from './limiters.js';
import type { Source } from './source.js';

/** Per-source limits of requests that name no subscription. */
export type RequestLimit = 'source' | 'revocations' | 'tokens' | 'enrollments';

export interface SendTarget {
  uaid: string;
  channelId: string;
  /** SHA-256 of the VAPID key that signed the request, when one did. */
  senderKeyHash: Buffer | null;
}

/** One rate limit of a push POST: its counter and the key the message counts under (null: not counted). */
export interface SendLimit {
  name: string;
  counter: Counter;
  keyOf(source: Source, target: SendTarget): string | null;
}

export interface CounterSet {
  factory: CounterFactory;
  bans: BanList;
  /** The push POST's limits in the order they are checked: source, sender key, subscription, device. */
  send: SendLimit[];
  requests: Record<RequestLimit, Counter | null>;
  strikes: Record<BanReason, Counter | null>;
}

export function buildCounterSet(config: GuardConfig, factory: CounterFactory, now: () => number): CounterSet {
  const { redis, health } = factory;
  const counter = (name: string, window: { points: number; seconds: number }) =>
    config.enabled && window.points > 0 ? factory.counter(name, window.points, window.seconds) : null;
  const perSource = counter('source', config.perSource);
  const senderKeys = senderKeyText();
  const send: Array<SendLimit | null> = [
    limit('source', perSource, (source) => (source.exempt ? null : source.key)),
    limit('sender key', counter('key', config.perSenderKey), (_source, target) => (target.senderKeyHash ? senderKeys(target.senderKeyHash) : null)),
    // Ids in clear, as the Redis bus's presence keys already hold them: hashing cost 3 µs a key.
    limit('subscription', counter('sub', config.perSubscription), (_source, target) => `${target.uaid}:${target.channelId}`),
    limit('device', counter('device', config.perDevice), (_source, target) => target.uaid),
  ];
  // A counter refuses the hit after `points`: N strikes ban at the Nth with points = N - 1.
  const { bans } = config;
  const strikes = (name: string, threshold: number) =>
    config.enabled && threshold > 0 ? factory.counter(name, threshold - 1, bans.windowSeconds, 'exact') : null;
  return {
    factory,
    bans: redis && health ? new RedisBanList(redis, factory.prefix, now, health) : new MemoryBanList(now),
    send: send.filter((entry): entry is SendLimit => entry !== null),
    requests: {
      source: perSource,
      revocations: counter('revocations', config.revocationsPerSource),
      tokens: counter('tokens', config.tokenRequestsPerSource),
      enrollments: counter('enrollments', config.enrollmentsPerSource),
    },
    strikes: {
      'invalid-signatures': strikes('strikes-sig', bans.invalidSignatures),
      'dead-endpoints': strikes('strikes-dead', bans.deadEndpoints),
    },
  };
}

function limit(name: string, counter: Counter | null, keyOf: SendLimit['keyOf']): SendLimit | null {
  return counter && { name, counter, keyOf };
}

/**
 * The sender key's text as a counter key. The VAPID check hands out the same hash Buffer for
 * every message signed with a cached token, so its text is encoded once per token, not per POST.
 */
function senderKeyText(): (hash: Buffer) => string {
  const texts = new WeakMap<Buffer, string>();
  return (hash) => {
    let text = texts.get(hash);
    if (text === undefined) {
      text = hash.toString('base64url');
      texts.set(hash, text);
    }
    return text;
  };
}
