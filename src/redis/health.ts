/**
 * Redis on a request path: the client settings that keep a send from ever waiting long on Redis,
 * and the health of one connection, which callers read before they ask Redis anything. While it
 * is down they take their fallback at once (per-node counters, storage) instead of each waiting
 * for its own command to time out; a probe finds out when Redis answers again.
 */
import type { Redis, RedisOptions } from 'ioredis';

/** What /__heartbeat__ reports for a dependency that may be Redis. */
export type DependencyState = 'local' | 'ok' | 'down';

/**
 * Settings for a client whose commands sit on a request path. No offline queue: a command while
 * the connection is down fails at once (its caller falls back) instead of waiting in memory to
 * burst at Redis on reconnect. No retries of commands in flight when the connection drops. Each
 * command answers within `commandTimeoutMs` or fails, so a frozen Redis (SIGSTOP, a hung host)
 * holds nobody for longer. Reconnects are tried at most a second apart.
 */
export function requestPathOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(1000, commandTimeoutMs * 4),
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
    // Subscribers subscribe again themselves, and know when that is done (src/push/delivery/redis-bus.ts).
    autoResubscribe: false,
  };
}

export interface RedisHealthEvents {
  /** Redis stopped answering (first failure of an outage), with what failed. */
  down?(cause: unknown): void;
  /** Redis answers again after `downForMs` (not called for the first success after start). */
  up?(downForMs: number): void;
}

export interface RedisHealthOptions {
  /** Checks that Redis answers (PING, and whatever else "usable" means to the caller). */
  probe(): Promise<void>;
  /** How often the probe runs, up or down (default 500 ms). */
  intervalMs?: number;
  now?: () => number;
}

/**
 * The health of one Redis connection: down from its first failure (a command that timed out or
 * found the connection closed, a failed probe, a closed connection) until a probe succeeds.
 */
export class RedisHealth {
  private isUp = false;
  /** A down() was reported and no up() since. */
  private reported = false;
  private downSince = 0;
  /** A probe is running (its failure is what reports a Redis that was never reached). */
  private probing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    client: Redis,
    private readonly options: RedisHealthOptions,
    private readonly events: RedisHealthEvents = {},
  ) {
    this.now = options.now ?? Date.now;
    client.on('close', () => this.failed(new Error('the connection to Redis closed')));
    // Reconnected: find out at once rather than at the next tick.
    client.on('ready', () => void this.check());
  }

  get up(): boolean {
    return this.isUp;
  }

  get state(): DependencyState {
    return this.isUp ? 'ok' : 'down';
  }

  /**
   * Probes every interval until stop(). `up`: the caller just saw Redis answer. Else it is down
   * (callers fall back) until the connection is ready or a probe succeeds; a start that finds no
   * Redis is reported down at the first probe that fails, a connection that is still being made
   * is not.
   */
  start(options: { up?: boolean } = {}): void {
    if (this.timer) return;
    this.isUp = options.up ?? false;
    this.timer = setInterval(() => void this.check(), this.options.intervalMs ?? 500);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * A command failed. An error Redis itself answered (a wrong type, an unknown script) says the
   * connection works; anything else (timeout, closed, refused) means Redis is down for now.
   */
  failed(error: unknown): void {
    if (!this.timer || !isConnectionFailure(error)) return;
    // Before the first answer, only a probe's failure counts (commands fail while connecting).
    if (!this.isUp && !this.reported && !this.probing) return;
    if (!this.isUp && this.reported) return;
    this.isUp = false;
    this.reported = true;
    this.downSince = this.now();
    this.events.down?.(error);
  }

  /** Runs the probe now (a connection just became ready); one at a time. */
  async check(): Promise<void> {
    if (this.probing || !this.timer) return;
    this.probing = true;
    try {
      await this.options.probe();
      if (!this.isUp && this.timer) {
        this.isUp = true;
        if (this.reported) this.events.up?.(this.now() - this.downSince);
        this.reported = false;
      }
    } catch (error) {
      this.failed(error);
    } finally {
      this.probing = false;
    }
  }
}

/** Redis answered the command with an error of its own: the connection itself is fine. */
function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return true;
  // Redis is up but cannot serve (loading its data, a busy script, a replica without its master).
  return /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/.test(error.message);
}
