/**
 * Keyset pagination of the console's tables: each row has a sort key (unique, in the table's
 * order); a page is the rows after the cursor's key, so rows added or removed meanwhile never
 * shift a page the way an offset would. Tables in a store are read a page at a time by the store
 * (an index seek from the key: src/store/keyset.ts); the guard's bans, which live only in memory,
 * are paged here (`pageInMemory`).
 *
 * The cursor is opaque to the page: base64url of `c2|<table>|<key>`. The table name makes a cursor
 * from another table a bad cursor rather than a silent jump; `c1` cursors (keys padded for string
 * comparison, before the stores paged) are refused like any other. Anything that does not decode
 * to a key of this table is 400 errno 600.
 */
import { z } from 'zod';
import type { KeysetQuery, TimeKey } from '../store/keyset.js';
import type { BlockedKeyCursor } from '../store/types.js';
import { consoleErrors } from './errors.js';
import { smallestAfter } from './smallest-after.js';

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

/** How one table's sort key is written into its cursors and read back. */
export interface CursorCodec<K> {
  readonly table: string;
  encode(key: K): string;
  /** null when the text is not a key of this table. */
  decode(text: string): K | null;
}

const VERSION = 'c2';

/** The store query for a page request: the key after which to read (400 errno 600 for a bad cursor). */
export function keysetQuery<K>(codec: CursorCodec<K>, query: PageQuery): KeysetQuery<K> {
  return { after: query.cursor === undefined ? null : openCursor(codec, query.cursor), limit: query.limit };
}

/** A page from what a store answered for `keysetQuery` (at most limit + 1 rows, in the table's order). */
export function pageOf<T, K>(rows: readonly T[], query: PageQuery, codec: CursorCodec<K>, keyOf: (row: T) => K): Page<T> {
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  return { items, next: rows.length > query.limit && last !== undefined ? sealCursor(codec, keyOf(last)) : null };
}

/** A page read from a store: `read` answers at most limit + 1 rows after the cursor's key. */
export async function storePage<T, K>(codec: CursorCodec<K>, query: PageQuery, read: (keyset: KeysetQuery<K>) => Promise<T[]>, keyOf: (row: T) => K): Promise<Page<T>> {
  return pageOf(await read(keysetQuery(codec, query)), query, codec, keyOf);
}

/**
 * A page of a list held in memory, in ascending order of a text key, without sorting the list:
 * one pass keeps the smallest limit + 1 keys after the cursor (smallest-after.ts).
 */
export function pageInMemory<T>(rows: Iterable<T>, query: PageQuery, codec: CursorCodec<string>, keyOf: (row: T) => string): Page<T> {
  const { after, limit } = keysetQuery(codec, query);
  return pageOf(smallestAfter(rows, keyOf, after, limit + 1), query, codec, keyOf);
}

function sealCursor<K>(codec: CursorCodec<K>, key: K): string {
  return Buffer.from(`${VERSION}|${codec.table}|${codec.encode(key)}`).toString('base64url');
}

function openCursor<K>(codec: CursorCodec<K>, cursor: string): K {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const prefix = `${VERSION}|${codec.table}|`;
  const key = text.startsWith(prefix) ? codec.decode(text.slice(prefix.length)) : null;
  if (key === null) throw consoleErrors.error('invalidRequest', { detail: 'cursor is invalid (use the one a page answered)' });
  return key;
}

const SAFE_TIME = /^(0|[1-9]\d{0,15})$/;

function safeInteger(text: string): number | null {
  const value = SAFE_TIME.test(text) ? Number(text) : NaN;
  return Number.isSafeInteger(value) ? value : null;
}

/** (createdAt, id) keys of a table whose ids are 32 lowercase hex (apps, sessions). */
export function timeKeyCodec(table: string): CursorCodec<TimeKey> {
  return {
    table,
    encode: (key) => `${key.at}:${key.id}`,
    decode: (text) => {
      const match = /^(\d+):([0-9a-f]{32})$/.exec(text);
      const at = match ? safeInteger(match[1] as string) : null;
      return at === null ? null : { at, id: match?.[2] as string };
    },
  };
}

export const nodeCursor: CursorCodec<number> = {
  table: 'nodes',
  encode: (id) => String(id),
  decode: (text) => safeInteger(text),
};

/** (blockedAt, keyHash): the hash as its 43 base64url characters. */
export const blockedKeyCursor: CursorCodec<BlockedKeyCursor> = {
  table: 'blocklist',
  encode: (key) => `${key.at}:${key.keyHash.toString('base64url')}`,
  decode: (text) => {
    const match = /^(\d+):([A-Za-z0-9_-]{43})$/.exec(text);
    const at = match ? safeInteger(match[1] as string) : null;
    const keyHash = Buffer.from(match?.[2] ?? '', 'base64url');
    return at === null || keyHash.length !== 32 ? null : { at, keyHash };
  },
};

/** A text key as it is (the guard's source keys: `4:203.0.113.7`, `6:2001:db8::/64`, `unknown`). */
export function textKeyCodec(table: string): CursorCodec<string> {
  return { table, encode: (key) => key, decode: (text) => (text.length > 0 && text.length <= 200 ? text : null) };
}
