/**
 * The SQL of the hourly app stats table (migration 7), the same text on SQLite and PostgreSQL:
 * an upsert that adds a flushed row's counts to the stored row, and the row conversions.
 */
import { LATENCY_BUCKETS, type AppStatsRow } from './types.js';

const COUNTS = ['accepted', 'delivered', 'stored', 'expired', 'refused'] as const;
const LATENCY_COLUMNS = Array.from({ length: LATENCY_BUCKETS }, (_, i) => `l${i}`);
const ADDED = [...COUNTS, ...LATENCY_COLUMNS];
export const APP_STATS_COLUMNS = ['key_hash', 'hour', ...ADDED];

/** `INSERT … VALUES <placeholders> ON CONFLICT … DO UPDATE` adding every count. */
export function appStatsUpsert(values: string): string {
  const sums = ADDED.map((column) => `${column} = app_stats_hourly.${column} + excluded.${column}`).join(', ');
  return `INSERT INTO app_stats_hourly (${APP_STATS_COLUMNS.join(', ')}) VALUES ${values} ON CONFLICT (key_hash, hour) DO UPDATE SET ${sums}`;
}

export const APP_STATS_SELECT = `SELECT ${APP_STATS_COLUMNS.join(', ')} FROM app_stats_hourly`;

/** A row's values in APP_STATS_COLUMNS order. */
export function appStatsValues(row: AppStatsRow): Array<Buffer | number> {
  return [row.keyHash, row.hour, row.accepted, row.delivered, row.stored, row.expired, row.refused, ...row.latency];
}

/** A stored row (PostgreSQL answers BIGINT as strings). */
export function appStatsFromRow(row: Record<string, unknown>): AppStatsRow {
  const count = (column: string): number => Number(row[column]);
  return {
    keyHash: row['key_hash'] as Buffer,
    hour: count('hour'),
    accepted: count('accepted'),
    delivered: count('delivered'),
    stored: count('stored'),
    expired: count('expired'),
    refused: count('refused'),
    latency: LATENCY_COLUMNS.map(count),
  };
}
