/**
 * How Herald's parts are watched: each function turns the metrics and the logger into the observer
 * one part accepts, so the parts know nothing of Prometheus or pino and the composition root
 * wires them in one line each. Observers never see payloads, ids or secrets.
 */
import type { Logger } from 'pino';
import type { GuardEvents } from '../guard/guard.js';
import type { RedisBusActivity } from '../push/delivery/redis-bus.js';
import type { SweepResult } from '../push/delivery/sweeper.js';
import type { EndpointObserver } from '../push/endpoint/routes.js';
import type { SessionObserver } from '../push/protocol/session.js';
import type { WakeupObserver } from '../push/wakeup/service.js';
import type { Metrics } from './metrics.js';

/** Name, message and code of an error: no stack of request data, no ids (they are not in messages). */
export function errorSummary(error: unknown): { name: string; message: string; code?: string } {
  if (!(error instanceof Error)) return { name: 'unknown', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
}

export function endpointObserver(metrics: Metrics, logger: Logger): EndpointObserver {
  return {
    accepted: (outcome, seconds) => {
      metrics.messagesAccepted.inc({ outcome });
      metrics.acceptSeconds.observe(seconds);
    },
    failed: (errno, cause) => {
      metrics.endpointErrors.inc({ errno: String(errno) });
      // A cause comes with 5xx answers only: Herald's own failures (storage, a bug) go to the error log.
      if (cause !== undefined) logger.error({ errno, err: errorSummary(cause) }, 'sender endpoint failed');
    },
    aborted: () => metrics.uploadsAborted.inc(),
  };
}

export function sessionObserver(metrics: Metrics, logger: Logger): SessionObserver {
  return {
    delivered: (count, fromStorage) => metrics.messagesDelivered.inc({ source: fromStorage ? 'storage' : 'live' }, count),
    acked: (code) => metrics.messagesAcked.inc({ code: String(code ?? 100) }),
    reset: () => metrics.deviceResets.inc(),
    violation: (reason) => {
      metrics.protocolViolations.inc();
      logger.debug({ reason }, 'socket closed for a protocol violation');
    },
    storageFailed: (error) => {
      logger.error({ err: errorSummary(error) }, 'storage failed under a device session; socket closed 1011');
    },
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

export function sweepReporter(metrics: Metrics, logger: Logger): (result: SweepResult | Error) => void {
  return (result) => {
    if (result instanceof Error) {
      logger.error({ err: result.message }, 'sweep failed');
      return;
    }
    metrics.messagesExpired.inc(result.expiredMessages);
    metrics.devicesSwept.inc(result.idleDevices);
    if (result.expiredMessages || result.idleDevices) logger.info(result, 'swept expired messages and idle devices');
  };
}

export function guardObserver(metrics: Metrics, logger: Logger): GuardEvents {
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
    redisFailed: (error) => logger.warn({ err: errorSummary(error) }, 'guard: Redis failed; limits fall back to per-node counters'),
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

export function wakeupObserver(metrics: Metrics, logger: Logger): WakeupObserver {
  return {
    woke: (outcome, error) => {
      metrics.wakeupDatagrams.inc({ outcome });
      if (error) logger.warn({ err: errorSummary(error) }, 'wake-up datagram failed');
    },
    storageFailed: (error) => logger.error({ err: errorSummary(error) }, 'storage failed writing a wake-up address; hello answered 500 for it'),
  };
}

export function busErrorLogger(logger: Logger): (error: unknown, during: RedisBusActivity) => void {
  return (error, during) => logger.warn({ err: errorSummary(error), during }, 'bus: Redis failed; deliveries fall back to storage');
}

export function identityErrorLogger(logger: Logger): (error: unknown, part: 'accounts' | 'tokenserver' | 'console') => void {
  return (error, part) => logger.error({ err: errorSummary(error), part }, 'identity request failed');
}
