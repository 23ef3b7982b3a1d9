/**
 * PostgreSQL's hourly app stats (migration 7), beside the main store so that file does not grow.
 * A flush is one multi-row upsert per chunk: one round trip for a few hundred keys.
 */
import type pg from 'pg';
import { APP_STATS_COLUMNS, APP_STATS_SELECT, appStatsFromRow, appStatsUpsert, appStatsValues } from '../app-stats-sql.js';
import type { AppStatsRow, AppStatsStore } from '../types.js';

/** Rows per statement: 19 parameters each stays far below PostgreSQL's 65535. */
const CHUNK_ROWS = 500;

export class PostgresAppStats implements AppStatsStore {
  constructor(private readonly pool: pg.Pool) {}

  async addAppStats(rows: readonly AppStatsRow[]): Promise<void> {
    for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
      const chunk = rows.slice(start, start + CHUNK_ROWS);
      const width = APP_STATS_COLUMNS.length;
      const values = chunk.map((_, r) => `(${APP_STATS_COLUMNS.map((__, c) => `$${r * width + c + 1}`).join(', ')})`).join(', ');
      await this.pool.query(appStatsUpsert(values), chunk.flatMap(appStatsValues));
    }
  }

  async appStats(keyHash: Buffer, fromHour: number, toHour: number): Promise<AppStatsRow[]> {
    const result = await this.pool.query(`${APP_STATS_SELECT} WHERE key_hash = $1 AND hour >= $2 AND hour < $3 ORDER BY hour`, [keyHash, fromHour, toHour]);
    return result.rows.map(appStatsFromRow);
  }

  async pruneAppStats(beforeHour: number): Promise<number> {
    const result = await this.pool.query('DELETE FROM app_stats_hourly WHERE hour < $1', [beforeHour]);
    return result.rowCount ?? 0;
  }
}
