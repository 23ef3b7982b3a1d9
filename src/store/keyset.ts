/**
 * A page of a table read by keyset: the rows strictly after the last one a previous page showed, in
 * the table's order, so an index seek from that key answers it (no OFFSET that reads and drops every
 * row before, and no row added or removed meanwhile shifts the next page). The stores answer at most
 * `limit + 1` rows: the extra one only says that a next page exists.
 */
export interface KeysetQuery<K> {
  /** The sort key of the last row already shown; null for the first page. */
  after: K | null;
  limit: number;
}

/** The sort key of tables ordered by creation time, ties broken by the row's unique id. */
export interface TimeKey {
  at: number;
  id: string;
}

/**
 * A time key below every real one (times are milliseconds since the epoch, never negative): the
 * first page runs the same statement as the others, so one plan serves every page.
 */
export const BEFORE_ALL_TIMES: TimeKey = { at: -1, id: '' };

/**
 * A blocklist key above every real one, for the first page of a newest-first seek: a key hash is 32
 * bytes, and both engines order a longer blob of 0xff after any 32-byte one.
 */
export const AFTER_ALL_BLOCKED = { at: Number.MAX_SAFE_INTEGER, keyHash: Buffer.alloc(33, 0xff) } as const;

/** The rows a store should answer for `query`: one more than the page shows. */
export function rowsToRead(query: KeysetQuery<unknown>): number {
  return Math.max(1, Math.floor(query.limit)) + 1;
}
