/**
 * Keyset pagination of the console's tables: each row has a sort key (unique, in the table's
 * order); a page is the rows after the cursor's key, so rows added or removed meanwhile never
 * shift a page the way an offset would. The cursor is opaque to the page (base64url of a
 * versioned key); anything that does not decode is 400 errno 600.
 */
import { z } from 'zod';
import { consoleErrors } from './errors.js';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 25;

export const pageQuery = z
  .object({ cursor: z.string().max(400).optional(), limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE) })
  .strict();
export type PageQuery = z.infer<typeof pageQuery>;

export interface Page<T> {
  items: T[];
  /** The cursor of the next page; null on the last one. */
  next: string | null;
}

/** A sort key from a number (fixed width, so keys compare as strings) and a unique tie-breaker. */
export function sortKey(first: number, tie: string): string {
  return `${String(Math.max(0, Math.floor(first))).padStart(16, '0')}:${tie}`;
}

export function page<T>(rows: readonly T[], keyOf: (row: T) => string, query: PageQuery): Page<T> {
  const after = query.cursor === undefined ? null : openCursor(query.cursor);
  const sorted = rows.map((row) => ({ row, key: keyOf(row) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const rest = after === null ? sorted : sorted.filter((each) => each.key > after);
  const items = rest.slice(0, query.limit);
  const last = items.at(-1);
  return { items: items.map((each) => each.row), next: rest.length > query.limit && last ? sealCursor(last.key) : null };
}

function sealCursor(key: string): string {
  return Buffer.from(`c1|${key}`).toString('base64url');
}

function openCursor(cursor: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  if (!text.startsWith('c1|')) throw consoleErrors.error('invalidRequest', { detail: 'cursor is invalid (use the one a page answered)' });
  return text.slice(3);
}
