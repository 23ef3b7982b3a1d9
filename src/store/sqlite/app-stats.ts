/**
 * SQLite's hourly app stats (migration 7), beside the main store so that file does not grow. A
 * flush is one job of the store's group commit: it shares the commit of the writes of its turn.
 */
import type Database from 'better-sqlite3';
import { APP_STATS_COLUMNS, APP_STATS_SELECT, appStatsFromRow, appStatsUpsert, appStatsValues } from '../app-stats-sql.js';
import type { AppStatsRow, AppStatsStore } from '../types.js';

export class SqliteAppStats implements AppStatsStore {
  private statements: ReturnType<typeof prepare> | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly write: <T>(job: () => T) => Promise<T>,
  ) {}

  addAppStats(rows: readonly AppStatsRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.write(() => {
      const { upsert } = this.prepared();
      for (const row of rows) upsert.run(appStatsValues(row));
    });
  }

  async appStats(keyHash: Buffer, fromHour: number, toHour: number): Promise<AppStatsRow[]> {
    return this.prepared().range.all(keyHash, fromHour, toHour).map(appStatsFromRow);
  }

  async pruneAppStats(beforeHour: number): Promise<number> {
    return this.write(() => this.prepared().prune.run(beforeHour).changes);
  }

  /** Prepared on first use: the table exists only once migrate() ran. */
  private prepared(): ReturnType<typeof prepare> {
    this.statements ??= prepare(this.db);
    return this.statements;
  }
}

function prepare(db: Database.Database) {
  const placeholders = `(${APP_STATS_COLUMNS.map(() => '?').join(', ')})`;
  return {
    upsert: db.prepare<unknown[]>(appStatsUpsert(placeholders)),
    range: db.prepare<[Buffer, number, number], Record<string, unknown>>(`${APP_STATS_SELECT} WHERE key_hash = ? AND hour >= ? AND hour < ? ORDER BY hour`),
    prune: db.prepare<[number]>('DELETE FROM app_stats_hourly WHERE hour < ?'),
  };
}
