/**
 * How failures are logged during an outage: the first of a kind at once, with its real cause;
 * the same kind again only counted, one line per window saying how many; and, for a dependency,
 * one line when it answers again. An outage of a minute at a hundred failed requests a second
 * logs a dozen lines, not six thousand.
 */
import type { Logger } from 'pino';
import { errorSummary } from './error-summary.js';

const DEFAULT_WINDOW_MS = 10_000;

type Level = 'error' | 'warn';

interface Repeats {
  level: Level;
  /** What the count line says before its count. */
  label: string;
  fields: Record<string, unknown>;
  count: number;
  timer: NodeJS.Timeout;
}

/** Repeated log lines of one kind become one line per window with their count. */
export class ThrottledLog {
  private readonly kinds = new Map<string, Repeats>();

  constructor(
    private readonly logger: Logger,
    readonly windowMs = DEFAULT_WINDOW_MS,
  ) {}

  /**
   * Logs the first line of `kind`; more of it within the window are counted, and the count logged
   * once per window as "<label> (N more within S s)" (label: the message, unless given).
   */
  log(level: Level, kind: string, fields: Record<string, unknown>, message: string, label = message): void {
    const repeats = this.kinds.get(kind);
    if (repeats) {
      repeats.count++;
      return;
    }
    this.logger[level](fields, message);
    const timer = setInterval(() => this.flush(kind), this.windowMs);
    timer.unref();
    this.kinds.set(kind, { level, label, fields, count: 0, timer });
  }

  /** Logs what was counted of `kind` now, and forgets it (its next line is logged in full). */
  settle(kind: string): number {
    const repeats = this.kinds.get(kind);
    if (!repeats) return 0;
    clearInterval(repeats.timer);
    this.kinds.delete(kind);
    this.logCount(repeats);
    return repeats.count;
  }

  private flush(kind: string): void {
    const repeats = this.kinds.get(kind);
    if (!repeats) return;
    // A window without repeats ends the kind: its next occurrence is news again.
    if (repeats.count === 0) {
      clearInterval(repeats.timer);
      this.kinds.delete(kind);
      return;
    }
    this.logCount(repeats);
    repeats.count = 0;
  }

  private logCount(repeats: Repeats): void {
    if (repeats.count === 0) return;
    const seconds = Math.round(this.windowMs / 1000);
    this.logger[repeats.level]({ ...repeats.fields, repeated: repeats.count }, `${repeats.label} (${repeats.count} more within ${seconds} s)`);
  }
}

export interface DependencyOutageOptions {
  /** How the dependency is named in log lines ("storage", "bus (Redis)"). */
  name: string;
  /** What the outage means for senders and devices, said once when it starts. */
  effect: string;
  /** Of the first line and the counts (default error; warn for a dependency Herald works without). */
  level?: Level;
  /** Asks the dependency whether it answers again; without it, back() is called by its owner. */
  probe?(): Promise<void>;
  probeIntervalMs?: number;
  /** Told when the dependency goes down and comes back (metrics). */
  changed?(up: boolean): void;
  now?: () => number;
}

/** Distinct causes logged per outage beyond the first (a refused reconnect after a closed connection). */
const MAX_CAUSES = 3;

/**
 * One dependency's outage, as the log tells it: "<name> failed: <cause>; <effect>" once, each
 * other cause it fails with once ("<name> still failing: <cause>"), the failures it keeps causing
 * as counts, and "<name> is back after N s" when it answers again.
 */
export class DependencyOutage {
  private downSince: number | null = null;
  private failures = 0;
  private readonly causes = new Set<string>();
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    private readonly throttled: ThrottledLog,
    private readonly logger: Logger,
    private readonly options: DependencyOutageOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  get isDown(): boolean {
    return this.downSince !== null;
  }

  /** Something failed because of this dependency (a request, a socket, a probe). */
  failed(cause: unknown): void {
    const { name, effect } = this.options;
    const level = this.options.level ?? 'error';
    const error = errorSummary(cause);
    const key = error.code ?? error.message;
    if (this.downSince === null) {
      this.downSince = this.now();
      this.failures = 0;
      this.causes.clear();
      this.causes.add(key);
      this.options.changed?.(false);
      this.startProbing();
    } else if (!this.causes.has(key) && this.causes.size <= MAX_CAUSES) {
      this.causes.add(key);
      this.failures++;
      this.logger[level]({ dependency: name, error }, `${name} still failing: ${error.message}`);
      return;
    }
    this.failures++;
    this.throttled.log(level, `outage:${name}`, { dependency: name, error }, `${name} failed: ${error.message}; ${effect}`, `${name} still down`);
  }

  /** It answers again. */
  back(details: Record<string, unknown> = {}, note = ''): void {
    if (this.downSince === null) return;
    const seconds = Math.round((this.now() - this.downSince) / 100) / 10;
    this.downSince = null;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.throttled.settle(`outage:${this.options.name}`);
    this.options.changed?.(true);
    const name = this.options.name;
    this.logger.info({ dependency: name, downSeconds: seconds, failures: this.failures, ...details }, `${name} is back after ${seconds} s (${this.failures} failures meanwhile)${note}`);
  }

  stop(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  private startProbing(): void {
    const probe = this.options.probe;
    if (!probe || this.probeTimer) return;
    let probing = false;
    this.probeTimer = setInterval(() => {
      if (probing) return;
      probing = true;
      probe()
        .then(() => this.back())
        .catch(() => undefined)
        .finally(() => {
          probing = false;
        });
    }, this.options.probeIntervalMs ?? 1000);
    this.probeTimer.unref();
  }
}
