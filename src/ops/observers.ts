/**
 * How Herald's parts are watched: each function turns the metrics and the logger into the observer
 * one part accepts, so the parts know nothing of Prometheus or pino and the composition root
 * wires them in one line each. Observers never see payloads, ids or secrets.
 */
import type { Logger } from 'pino';
import type { GuardEvents } from '../guard/guard.js';
import type { RedisBusActivity, RedisBusEvents } from '../push/delivery/redis-bus.js';
import type { SweepResult } from '../push/delivery/sweeper.js';
import type { EndpointObserver } from '../push/endpoint/routes.js';
import type { SessionObserver } from '../push/protocol/session.js';
import type { WakeupObserver } from '../push/wakeup/service.js';
import type { SenderKeyCount, StoreLifecycle } from '../store/types.js';
import type { AppStatsCounter } from './app-stats.js';
import { errorSummary } from './error-summary.js';
import type { Metrics } from './metrics.js';
import { DependencyOutage, ThrottledLog } from './outage-log.js';

export { errorSummary } from './error-summary.js';

/** Errno of "storage is unavailable" (503): the storage outage counts these, one line per window. */
const STORAGE_UNAVAILABLE = 201;

/** The outage log of each dependency, shared by every observer that sees it fail. */
export interface Outages {
  throttled: ThrottledLog;
  storage: DependencyOutage;
  bus: DependencyOutage;
  limits: DependencyOutage;
  stop(): void;
}

export function outages(
  metrics: Metrics,
  logger: Logger,
  storage: () => Pick<StoreLifecycle, 'ping'>,
  redis: { bus: boolean; limits: boolean },
): Outages {
  const throttled = new ThrottledLog(logger);
  const changed = (dependency: string) => (up: boolean) => {
    metrics.dependencyUp.set({ dependency }, up ? 1 : 0);
    if (!up) metrics.dependencyOutages.inc({ dependency });
  };
  metrics.dependencyUp.set({ dependency: 'storage' }, 1);
  if (redis.bus) metrics.dependencyUp.set({ dependency: 'bus' }, 1);
  if (redis.limits) metrics.dependencyUp.set({ dependency: 'limits' }, 1);
  const result: Outages = {
    throttled,
    storage: new DependencyOutage(throttled, logger, {
      name: 'storage',
      effect: 'senders are answered 503 (nothing accepted); device sockets that need storage close 1011 and reconnect; nothing stored is lost',
      probe: () => storage().ping(),
      changed: changed('storage'),
    }),
    bus: new DependencyOutage(throttled, logger, {
      name: 'bus (Redis)',
      level: 'warn',
      effect: 'messages for devices on other nodes are stored and sent when Redis is back (or at their next hello); same-node delivery goes on',
      changed: changed('bus'),
    }),
    limits: new DependencyOutage(throttled, logger, {
      name: 'guard (Redis)',
      level: 'warn',
      effect: 'limits count per node, bans are neither checked nor recorded until Redis is back',
      changed: changed('limits'),
    }),
    stop: () => {
      for (const outage of [result.storage, result.bus, result.limits]) outage.stop();
    },
  };
  return result;
}

/** `appStats`: the per-app counters of the console's charts (app-stats.ts): accepted and refused VAPID-signed pushes. */
export function endpointObserver(metrics: Metrics, outages: Outages, appStats?: AppStatsCounter): EndpointObserver {
  return {
    accepted: (outcome, seconds, senderKeyHash) => {
      metrics.messagesAccepted.inc({ outcome });
      metrics.acceptSeconds.observe(seconds);
      if (senderKeyHash && appStats) appStats.accepted(senderKeyHash, outcome);
    },
    failed: (errno, cause, refusedSender) => {
      metrics.endpointErrors.inc({ errno: String(errno) });
      if (refusedSender && appStats) appStats.refused(refusedSender);
      // A cause comes with 5xx answers only: Herald's own failures (storage, a bug) go to the error log.
      if (cause === undefined) return;
      if (errno === STORAGE_UNAVAILABLE) return outages.storage.failed(cause);
      const error = errorSummary(cause);
      outages.throttled.log('error', `endpoint:${errno}:${error.message}`, { errno, error }, 'sender endpoint failed');
    },
    aborted: () => metrics.uploadsAborted.inc(),
  };
}

/** The Redis bus as metrics and the outage log see it. */
export function busObserver(metrics: Metrics, logger: Logger, outages: Outages): RedisBusEvents {
  return {
    fellBack: (reason) => metrics.busFallbacks.inc({ reason }),
    down: (cause) => outages.bus.failed(cause),
    back: (_downForMs, devices) => outages.bus.back({ devices }, `; presence of ${devices} devices re-announced, their storage re-checked`),
    peerLapsed: (node, silentForMs) => {
      metrics.peerLapses.inc();
      const silentSeconds = Math.round(silentForMs / 1000);
      logger.warn({ node, silentSeconds }, `bus: peer node ${node} stopped refreshing its presence ${silentSeconds} s ago; its devices' leases have lapsed`);
    },
  };
}

/** `appStats`: the device acked a message of a key-bound channel, a delivery in the console's charts. */
export function sessionObserver(metrics: Metrics, logger: Logger, outages: Outages, appStats?: AppStatsCounter): SessionObserver {
  return {
    delivered: (count, fromStorage) => metrics.messagesDelivered.inc({ source: fromStorage ? 'storage' : 'live' }, count),
    acked: (code) => metrics.messagesAcked.inc({ code: String(code ?? 100) }),
    ...(appStats ? { appDelivered: (keyHash: Buffer, latencyMs: number) => appStats.delivered(keyHash, latencyMs) } : {}),
    reset: () => metrics.deviceResets.inc(),
    violation: (reason) => {
      metrics.protocolViolations.inc();
      logger.debug({ reason }, 'socket closed for a protocol violation');
    },
    // One line per outage, not per socket (the storage outage says what happens to sockets).
    storageFailed: (error) => outages.storage.failed(error),
  };
}

/** Open device sockets, as the connection gauge counts them. */
export function connectionObserver(metrics: Metrics): { opened(): void; closed(): void; readsPaused(): void } {
  return {
    opened: () => metrics.connections.inc(),
    closed: () => metrics.connections.dec(),
    readsPaused: () => metrics.socketReadsPaused.inc(),
  };
}

/** The expiry sweep's deletions of key-bound channels' messages: "expired" in the console's charts. */
export function expiryObserver(appStats: AppStatsCounter): (bySenderKey: readonly SenderKeyCount[]) => void {
  return (bySenderKey) => {
    for (const { keyHash, count } of bySenderKey) appStats.expired(keyHash, count);
  };
}

export function sweepReporter(metrics: Metrics, logger: Logger): (result: SweepResult | Error) => void {
  return (result) => {
    if (result instanceof Error) {
      logger.error({ error: errorSummary(result) }, 'sweep failed');
      return;
    }
    metrics.messagesExpired.inc(result.expiredMessages);
    metrics.devicesSwept.inc(result.idleDevices);
    if (result.expiredMessages || result.idleDevices) logger.info(result, 'swept expired messages and idle devices');
  };
}

export function guardObserver(metrics: Metrics, logger: Logger, outages: Outages): GuardEvents {
  let warnedUntrustedForwarded = false;
  return {
    untrustedForwarded: () => {
      metrics.untrustedForwarded.inc();
      if (warnedUntrustedForwarded) return;
      warnedUntrustedForwarded = true;
      logger.warn(
        'guard: requests carry X-Forwarded-For from a peer that is not in guard.trustedProxies, so the header is ignored: ' +
          "every client behind that proxy is limited (and banned) as the proxy's one address, and exempt when the proxy is on loopback. " +
          'List the proxy in guard.trustedProxies (herald_guard_untrusted_forwarded_total counts these requests)',
      );
    },
    banned: (reason) => {
      metrics.guardBans.inc({ reason });
      logger.warn({ reason }, 'guard: a source is banned for a cool-down (herald admin bans lists it)');
    },
    limited: (limit) => metrics.guardLimited.inc({ limit }),
    networkRefused: (listener) => metrics.networkRefused.inc({ listener }),
    redisFailed: (error) => {
      if (outages.limits.isDown) return outages.limits.failed(error);
      outages.throttled.log('warn', `guard:${errorSummary(error).message}`, { error: errorSummary(error) }, 'guard: Redis failed; limits fall back to per-node counters');
    },
    redisDown: (cause) => outages.limits.failed(cause),
    redisBack: () => outages.limits.back(),
  };
}

/** Mutual TLS: refused client certificates (the reason for logs and metrics, never the client). */
export interface DevicesObserver {
  refused(listener: string, reason: string): void;
  crlFailed(error: unknown): void;
  enrolled(route: string, outcome: string): void;
  enrollFailed(error: unknown): void;
}

export function devicesObserver(metrics: Metrics, logger: Logger): DevicesObserver {
  return {
    enrolled: (route, outcome) => {
      metrics.enrollments.inc({ route, outcome });
      if (outcome !== 'issued') logger.debug({ route, outcome }, 'device enrollment refused');
    },
    enrollFailed: (error) => logger.error({ err: errorSummary(error) }, 'device enrollment failed'),
    refused: (listener, reason) => {
      metrics.certificatesRefused.inc({ listener, reason });
      logger.debug({ listener, reason }, 'client certificate refused');
    },
    crlFailed: (error) => logger.error({ err: errorSummary(error) }, 'devices: the CRL could not be refreshed; the previous one stays installed'),
  };
}

export function attestationObserver(metrics: Metrics, logger: Logger): { refused(reason: string): void } {
  return {
    refused: (reason) => {
      metrics.attestationRefused.inc({ reason });
      logger.debug({ reason }, 'attestation refused');
    },
  };
}

export function wakeupObserver(metrics: Metrics, outages: Outages): WakeupObserver {
  return {
    woke: (outcome, error) => {
      metrics.wakeupDatagrams.inc({ outcome });
      if (error) outages.throttled.log('warn', `wakeup:${errorSummary(error).message}`, { error: errorSummary(error) }, 'wake-up datagram failed');
    },
    storageFailed: (error) => outages.storage.failed(error),
  };
}

/** Errors of the bus's Redis connections: counted into the outage while Redis is down, else throttled. */
export function busErrorLogger(outages: Outages): (error: unknown, during: RedisBusActivity) => void {
  return (error, during) => {
    if (outages.bus.isDown) return outages.bus.failed(error);
    const summary = errorSummary(error);
    outages.throttled.log('warn', `bus:${during}:${summary.message}`, { error: summary, during }, 'bus: Redis failed; deliveries fall back to storage');
  };
}

export function identityErrorLogger(outages: Outages): (error: unknown, part: 'accounts' | 'tokenserver' | 'console') => void {
  return (error, part) => {
    const summary = errorSummary(error);
    outages.throttled.log('error', `identity:${part}:${summary.message}`, { error: summary, part }, 'identity request failed');
  };
}
