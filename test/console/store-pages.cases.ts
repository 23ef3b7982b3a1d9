/**
 * The console's paged store queries (apps, sessions, nodes, the sender blocklist), the same
 * scenarios on every engine: pages walked to the end give every row once in the table's order; a
 * row added or removed between pages neither repeats nor skips the others; a store answers at most
 * limit + 1 rows. store-pages.test.ts runs them on SQLite and on a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import type { IdentityStore } from '../../src/accounts/store.js';
import type { ConsoleRecords } from '../../src/accounts/console-records.js';
import type { KeysetQuery, TimeKey } from '../../src/store/keyset.js';
import type { BlockedKeyCursor, Store } from '../../src/store/types.js';

export interface Stores {
  identity: IdentityStore & { console: ConsoleRecords };
  push: Store;
}

/** One paged list: how to add row n, remove a row, read a page, and the order the table promises. */
export interface PagedList<R, K> {
  name: string;
  add(n: number): Promise<R>;
  /** null where the store has no removal (nodes are only marked down, and still listed). */
  remove: ((row: R) => Promise<void>) | null;
  page(query: KeysetQuery<K>): Promise<R[]>;
  keyOf(row: R): K;
  idOf(row: R): string;
  /** Negative when a comes first in the table's order. */
  compare(a: K, b: K): number;
}

const OWNER = 'a'.repeat(32);
const OTHER = 'b'.repeat(32);
const hex = (label: string, n: number) => createHash('sha256').update(`${label}${n}`).digest('hex').slice(0, 32);
// Three rows share each millisecond: the id must break the ties, and page boundaries fall inside them.
const timeOf = (n: number) => 1_000 + Math.floor(n / 3);
const byTime = (a: TimeKey, b: TimeKey) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export async function seedAccounts(stores: Stores): Promise<void> {
  for (const id of [OWNER, OTHER]) {
    await stores.identity.createAccount({ id, email: `${id.slice(0, 4)}@example.com`, passwordHash: 'x', createdAt: 1, generation: 1, keysChangedAt: 1, lastAuthAt: 1 });
  }
}

export function apps(stores: Stores): PagedList<{ id: string; createdAt: number }, TimeKey> {
  return {
    name: 'apps of an account',
    add: async (n) => {
      const app = { id: hex('app', n), accountId: OWNER, name: `app ${n}`, publicKey: 'BPub', createdAt: timeOf(n), revokedAt: null };
      await stores.identity.console.createApp(app);
      // Another account's app at the same time: never in this account's pages.
      await stores.identity.console.createApp({ ...app, id: hex('other-app', n), accountId: OTHER });
      return app;
    },
    remove: async (row) => void (await stores.identity.console.deleteApp(OWNER, row.id)),
    page: (query) => stores.identity.console.listAppsPage(OWNER, query),
    keyOf: (row) => ({ at: row.createdAt, id: row.id }),
    idOf: (row) => row.id,
    compare: byTime,
  };
}

/** Sessions past their idle limit are among the rows and must never be answered. */
export function liveSessions(stores: Stores): PagedList<{ id: string; createdAt: number }, TimeKey> {
  const live = { usedAfter: 500, createdAfter: 0 };
  return {
    name: 'live sessions of an account',
    add: async (n) => {
      const session = { id: hex('session', n), accountId: OWNER, tokenHash: createHash('sha256').update(`t${n}`).digest(), createdAt: timeOf(n), lastUsedAt: 2_000 };
      await stores.identity.createSession(session);
      await stores.identity.createSession({ ...session, id: hex('idle', n), tokenHash: createHash('sha256').update(`i${n}`).digest(), lastUsedAt: 500 });
      return session;
    },
    remove: async (row) => void (await stores.identity.deleteSession(OWNER, row.id)),
    page: (query) => stores.identity.listSessionsPage(OWNER, { ...query, live }),
    keyOf: (row) => ({ at: row.createdAt, id: row.id }),
    idOf: (row) => row.id,
    compare: byTime,
  };
}

export function nodes(stores: Stores): PagedList<{ id: number; url: string }, number> {
  return {
    name: 'nodes',
    add: (n) => stores.identity.addNode({ service: n % 2 === 0 ? 'push' : 'sync', url: `https://node${n}.example`, capacity: 10 }),
    remove: null,
    page: (query) => stores.identity.listNodesPage(query),
    keyOf: (row) => row.id,
    idOf: (row) => String(row.id),
    compare: (a, b) => a - b,
  };
}

export function blocklist(stores: Stores): PagedList<{ keyHash: Buffer; blockedAt: number }, BlockedKeyCursor> {
  return {
    name: 'blocked sender keys (newest first)',
    add: async (n) => {
      const entry = { keyHash: createHash('sha256').update(`key${n}`).digest(), source: 'operator' as const, reason: 'feed', blockedAt: timeOf(n) };
      await stores.push.blockSenderKey(entry);
      return entry;
    },
    remove: async (row) => void (await stores.push.unblockSenderKey(row.keyHash)),
    page: (query) => stores.push.listBlockedSenderKeysPage(query),
    keyOf: (row) => ({ at: row.blockedAt, keyHash: row.keyHash }),
    idOf: (row) => row.keyHash.toString('hex'),
    compare: (a, b) => b.at - a.at || Buffer.compare(b.keyHash, a.keyHash),
  };
}

/** Every page from the first, `limit` rows shown each; asserts each answer's size on the way. */
async function walk<R, K>(list: PagedList<R, K>, limit: number, between?: (shown: R[]) => Promise<void>): Promise<R[]> {
  const shown: R[] = [];
  let after: K | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const rows = await list.page({ after, limit });
    assert.ok(rows.length <= limit + 1, `${rows.length} rows answered for a limit of ${limit}`);
    const items = rows.slice(0, limit);
    shown.push(...items);
    const last = items.at(-1);
    if (rows.length <= limit || last === undefined) return shown;
    after = list.keyOf(last);
    if (pages === 0) await between?.(shown);
  }
  assert.fail('the walk did not end');
}

function sorted<R, K>(list: PagedList<R, K>, rows: readonly R[]): string[] {
  return [...rows].sort((a, b) => list.compare(list.keyOf(a), list.keyOf(b))).map(list.idOf);
}

/** Registers the scenarios for one list; `open` gives fresh, empty, migrated stores for each. */
export function pagedListCases<R, K>(make: (stores: Stores) => PagedList<R, K>, open: () => Promise<{ stores: Stores; close(): Promise<void> }>): void {
  const scenario = (title: string, body: (list: PagedList<R, K>, rows: R[]) => Promise<void>) =>
    it(title, async () => {
      const { stores, close } = await open();
      try {
        await seedAccounts(stores);
        const list = make(stores);
        const rows: R[] = [];
        for (let n = 0; n < 40; n++) rows.push(await list.add(n));
        await body(list, rows);
      } finally {
        await close();
      }
    });

  scenario('pages walked to the end give every row exactly once, in the table order', async (list, rows) => {
    for (const limit of [1, 7, 40, 100]) assert.deepEqual((await walk(list, limit)).map(list.idOf), sorted(list, rows), `limit ${limit}`);
  });

  scenario('a row added or removed between pages neither repeats nor skips the others', async (list, rows) => {
    const removed = new Set<string>();
    let firstPage: string[] = [];
    const shown = await walk(list, 9, async (seen) => {
      firstPage = seen.map(list.idOf);
      // One row added at each end of the order, one unseen row and one seen row removed.
      rows.push(await list.add(-3), await list.add(1_000));
      const unseen = sorted(list, rows).find((id) => !firstPage.includes(id) && id !== list.idOf(rows.at(-1) as R));
      for (const row of rows) if (list.idOf(row) === unseen || list.idOf(row) === firstPage[2]) removed.add(list.idOf(row));
      if (list.remove === null) removed.clear();
      for (const row of rows) if (removed.has(list.idOf(row))) await list.remove?.(row);
    });
    const ids = shown.map(list.idOf);
    assert.equal(new Set(ids).size, ids.length, 'no row twice');
    const lastSeen = rows.find((row) => list.idOf(row) === firstPage.at(-1)) as R;
    const rest = sorted(list, rows).filter((id) => {
      const row = rows.find((each) => list.idOf(each) === id) as R;
      return !removed.has(id) && list.compare(list.keyOf(row), list.keyOf(lastSeen)) > 0;
    });
    assert.deepEqual(ids, [...firstPage, ...rest], 'the first page, then every row after it that is still there');
  });
}
