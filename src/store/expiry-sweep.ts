/**
 * The expiry sweep's answer from the rows both backends' sweep statements return: one row per
 * sender key hash of the deleted messages' channels, NULL for v1 channels (counted in the total,
 * attributed to no app).
 */
import type { ExpirySweep } from './types.js';

export interface ExpiredGroupRow {
  key_hash: Buffer | null;
  /** count(*): a number on SQLite, a bigint string on PostgreSQL. */
  n: number | string;
}

export function expirySweepOf(rows: readonly ExpiredGroupRow[]): ExpirySweep {
  const sweep: ExpirySweep = { deleted: 0, bySenderKey: [] };
  for (const row of rows) {
    const count = Number(row.n);
    sweep.deleted += count;
    if (row.key_hash !== null) sweep.bySenderKey.push({ keyHash: row.key_hash, count });
  }
  return sweep;
}
