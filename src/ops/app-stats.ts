/**
 * Per-app counters for the web console's charts: per sender key (an app's VAPID key hash) and
 * hour, messages accepted / delivered / stored / expired / refused and a latency histogram
 * (docs/console.md says what each means). The push path only bumps numbers in memory: the
 * endpoint's observer calls `accepted` and `refused` when a POST is answered, the device session's
 * `delivered` when the device acks (with the time since the POST arrived), the sweeper's `expired`
 * with what it deleted; a timer adds them to the store's hourly rows in one batch every few
 * seconds, and once more at stop.
 *
 * The common case costs no allocation: the VAPID check hands back the same keyHash Buffer for
 * every message signed with a cached JWT (and that Buffer travels with a live message to its ack;
 * the channel cache and the Redis bus's decoder hand out one Buffer per key too), so the counter
 * finds its entry by that Buffer's identity; only a Buffer not seen since the last flush pays one
 * hex conversion.
 */
import type { Part } from '../server/part.js';
import { LATENCY_BOUNDS_MS, LATENCY_BUCKETS, type AppStatsRow, type AppStatsStore } from '../store/types.js';

export type AcceptOutcome = 'delivered' | 'stored' | 'dropped';

export interface AppStatsOptions {
  store: () => AppStatsStore;
  now: () => number;
  /** How often counts go to the store. Default 5 s. */
  flushIntervalMs?: number;
  /** Hourly rows older than this are deleted (once an hour). Default 32 days. */
  retentionHours?: number;
  onError?: (error: unknown) => void;
}

const HOUR_MS = 3_600_000;
/** Rows kept for a retry while the store is down; past it the oldest are given up. */
const MAX_PENDING_ROWS = 10_000;
/** Buffers remembered by identity between flushes. */
const MAX_BUFFERS = 10_000;

interface Entry {
  keyHash: Buffer;
  hour: number;
  counts: AppStatsRow;
  touched: boolean;
}

export class AppStatsCounter implements Part {
  readonly name = 'app-stats';
  private readonly byHex = new Map<string, Entry>();
  /** keyHash Buffer → entry, for Buffers seen since the last flush (cleared there, so it stays small). */
  private readonly byBuffer = new Map<Buffer, Entry>();
  /** Rows taken out of entries (an hour that ended, a failed flush), awaiting the next flush. */
  private pending: AppStatsRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private lastPruneHour = -1;

  constructor(private readonly options: AppStatsOptions) {}

  /**
   * A 201. `stored`: the device was away and the message kept; `dropped`: TTL 0 with the device
   * away, counted as expired (RFC 8030 drops it). A message handed to a connected device counts
   * only as accepted here: it is delivered when the device acks it (`delivered`).
   */
  accepted(keyHash: Buffer, outcome: AcceptOutcome): void {
    const counts = this.entry(keyHash).counts;
    counts.accepted++;
    if (outcome === 'stored') counts.stored++;
    else if (outcome === 'dropped') counts.expired++;
  }

  /** The device acked a message of this key (code 100), `latencyMs` after its POST arrived. */
  delivered(keyHash: Buffer, latencyMs: number): void {
    const counts = this.entry(keyHash).counts;
    counts.delivered++;
    const bucket = bucketOf(latencyMs);
    counts.latency[bucket] = (counts.latency[bucket] ?? 0) + 1;
  }

  /** The expiry sweep deleted `count` stored messages of this key that no device fetched in time. */
  expired(keyHash: Buffer, count: number): void {
    this.entry(keyHash).counts.expired += count;
  }

  /** A push refused after its VAPID signature verified (the caller checks): the claimed key is proven. */
  refused(keyHash: Buffer): void {
    this.entry(keyHash).counts.refused++;
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Sends every count gathered so far; flushes never overlap. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow());
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    const rows = this.pending;
    this.pending = [];
    for (const [hex, entry] of this.byHex) {
      if (!entry.touched) {
        this.byHex.delete(hex);
        continue;
      }
      rows.push(entry.counts);
      entry.counts = emptyRow(entry.keyHash, entry.hour);
      entry.touched = false;
    }
    this.byBuffer.clear();
    try {
      const store = this.options.store();
      // A row kept from a failed flush may share its key and hour with a new one: PostgreSQL's
      // upsert refuses to touch one row twice in a statement, so they are added up first.
      await store.addAppStats(mergeRows(rows));
      await this.prune(store);
    } catch (error) {
      this.pending = rows.concat(this.pending).slice(-MAX_PENDING_ROWS);
      this.options.onError?.(error);
    }
  }

  private async prune(store: AppStatsStore): Promise<void> {
    const hour = hourOf(this.options.now());
    if (hour === this.lastPruneHour) return;
    this.lastPruneHour = hour;
    await store.pruneAppStats(hour - (this.options.retentionHours ?? 32 * 24));
  }

  private entry(keyHash: Buffer): Entry {
    const hour = hourOf(this.options.now());
    let entry = this.byBuffer.get(keyHash);
    if (!entry) {
      const hex = keyHash.toString('hex');
      entry = this.byHex.get(hex);
      if (!entry) {
        const copy = Buffer.from(keyHash);
        entry = { keyHash: copy, hour, counts: emptyRow(copy, hour), touched: false };
        this.byHex.set(hex, entry);
      }
      // A sender that signs every push anew hands a new Buffer each time: keep the map bounded.
      if (this.byBuffer.size >= MAX_BUFFERS) this.byBuffer.clear();
      this.byBuffer.set(keyHash, entry);
    }
    if (entry.hour !== hour) {
      // The hour turned: its counts wait for the next flush as a row of their own.
      if (entry.touched) this.pending.push(entry.counts);
      entry.hour = hour;
      entry.counts = emptyRow(entry.keyHash, hour);
    }
    entry.touched = true;
    return entry;
  }
}

/** Rows of the same key and hour added into one. */
export function mergeRows(rows: AppStatsRow[]): AppStatsRow[] {
  const byKey = new Map<string, AppStatsRow>();
  for (const row of rows) {
    const key = `${row.keyHash.toString('hex')}:${row.hour}`;
    const sum = byKey.get(key);
    if (!sum) {
      // A copy: the rows stay as they were, to be kept whole if this flush fails.
      byKey.set(key, { ...row, latency: [...row.latency] });
      continue;
    }
    addCounts(sum, row);
  }
  return [...byKey.values()];
}

/** Adds `row`'s counts and latency histogram into `sum` (its key and hour stay). */
export function addCounts(sum: AppStatsRow, row: AppStatsRow): void {
  sum.accepted += row.accepted;
  sum.delivered += row.delivered;
  sum.stored += row.stored;
  sum.expired += row.expired;
  sum.refused += row.refused;
  row.latency.forEach((n, i) => (sum.latency[i] = (sum.latency[i] ?? 0) + n));
}

export function hourOf(ms: number): number {
  return Math.floor(ms / HOUR_MS);
}

export function emptyRow(keyHash: Buffer, hour: number): AppStatsRow {
  return { keyHash, hour, accepted: 0, delivered: 0, stored: 0, expired: 0, refused: 0, latency: new Array<number>(LATENCY_BUCKETS).fill(0) };
}

/** The histogram bucket of a latency: the first bound it does not exceed, else the last bucket. */
export function bucketOf(ms: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) if (ms <= (LATENCY_BOUNDS_MS[i] as number)) return i;
  return LATENCY_BOUNDS_MS.length;
}

/**
 * The q-quantile (0..1) of a histogram, as the upper bound of the bucket it falls in (ms); the last
 * bucket has no bound, so a quantile there is reported as its lower bound. null without samples.
 */
export function quantileMs(latency: readonly number[], q: number): number | null {
  const total = latency.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < latency.length; i++) {
    seen += latency[i] as number;
    if (seen >= rank) return LATENCY_BOUNDS_MS[Math.min(i, LATENCY_BOUNDS_MS.length - 1)] as number;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] as number;
}
