/**
 * Keyset pagination of the console's tables (src/console/paging.ts): the cursors, the in-memory
 * pages of the guard's bans, and every paged route of the API (apps, sessions, nodes, the sender
 * blocklist) walked to the end. The store queries behind them: store-pages.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { run as admin } from '../../src/cli/admin.js';
import { blockedKeyCursor, keysetQuery, nodeCursor, pageInMemory, pageOf, textKeyCodec, timeKeyCodec, type CursorCodec } from '../../src/console/paging.js';
import type { Running } from '../helpers/herald.js';
import { ConsoleClient, createAccount, startConsoleHerald } from './harness.js';

const seal = (text: string) => Buffer.from(text).toString('base64url');

function refused(codec: CursorCodec<unknown>, cursor: string): void {
  assert.throws(
    () => keysetQuery(codec, { cursor, limit: 5 }),
    (error: { status?: number; definition?: { errno?: number } }) => error.status === 400 && error.definition?.errno === 600,
    cursor,
  );
}

describe('cursors', () => {
  const apps = timeKeyCodec('apps');
  const id = 'ab'.repeat(16);

  it('a cursor a page answered opens to its key; every other text is 400 errno 600', () => {
    const { next } = pageOf([{ at: 7, id }, { at: 8, id }], { limit: 1 }, apps, (row) => row);
    assert.deepEqual(keysetQuery(apps, { cursor: next ?? '', limit: 5 }), { after: { at: 7, id }, limit: 5 });
    for (const cursor of [
      'garbage!',
      seal(`c1|0000000000000007:${id}`), // the format before the stores paged
      seal(`c2|sessions|7:${id}`), // another table's
      seal(`c2|apps|7:${id.toUpperCase()}`),
      seal(`c2|apps|-7:${id}`),
      seal(`c2|apps|99999999999999999:${id}`), // beyond 2^53
      seal(`c2|apps|7:${id}x`),
      seal('c2|apps|'),
    ]) refused(apps, cursor);
    // Each byte of a good cursor flipped: a foreign key or nothing at all, never a silent jump.
    const good = Buffer.from(next ?? '', 'base64url');
    for (let i = 0; i < good.length; i++) {
      const tampered = Buffer.from(good);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      const opened = (() => {
        try {
          return keysetQuery(apps, { cursor: tampered.toString('base64url'), limit: 5 }).after;
        } catch {
          return 'refused';
        }
      })();
      // A flipped digit or hex letter can still be a well-formed key (an opaque cursor is not signed): it must then differ.
      assert.notDeepEqual(opened, { at: 7, id }, `byte ${i}`);
    }
  });

  it('node and blocklist keys round-trip, and refuse what is not theirs', () => {
    const keyHash = createHash('sha256').update('k').digest();
    const blocked = pageOf([{ at: 3, keyHash }, { at: 2, keyHash }], { limit: 1 }, blockedKeyCursor, (row) => row).next ?? '';
    assert.deepEqual(keysetQuery(blockedKeyCursor, { cursor: blocked, limit: 2 }).after, { at: 3, keyHash });
    refused(blockedKeyCursor, seal(`c2|blocklist|3:${keyHash.subarray(1).toString('base64url')}`));
    const node = pageOf([{ id: 41 }, { id: 42 }], { limit: 1 }, nodeCursor, (row) => row.id).next ?? '';
    assert.equal(keysetQuery(nodeCursor, { cursor: node, limit: 2 }).after, 41);
    for (const text of ['c2|nodes|4.5', 'c2|nodes|01', 'c2|nodes|', `c2|blocklist|3:${keyHash.toString('base64url')}`]) refused(nodeCursor, seal(text));
  });
});

describe('bans: pages of a list held in memory', () => {
  const bans = textKeyCodec('bans');
  // Unsorted, as a Map or a Redis SCAN gives them.
  const sources = Array.from({ length: 500 }, (_, i) => `4:10.0.${(i * 37) % 256}.${(i * 101) % 251}`).filter((each, i, all) => all.indexOf(each) === i);

  it('walks every ban once, in source order, whatever order the list comes in', () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const found = pageInMemory(sources, { limit: 13, ...(cursor === undefined ? {} : { cursor }) }, bans, (source) => source);
      assert.ok(found.items.length <= 13);
      seen.push(...found.items);
      cursor = found.next ?? undefined;
      pages++;
    } while (cursor !== undefined);
    assert.deepEqual(seen, [...sources].sort());
    assert.equal(pages, Math.ceil(sources.length / 13));
  });

  it('a ban added before the cursor or lifted after it does not shift the next page', () => {
    const first = pageInMemory(sources, { limit: 10 }, bans, (source) => source);
    const ordered = [...sources].sort();
    const changed = [...sources.filter((source) => source !== ordered[12]), '4:0.0.0.0'];
    const second = pageInMemory(changed, { limit: 10, cursor: first.next ?? '' }, bans, (source) => source);
    assert.deepEqual(second.items, [...ordered.slice(10, 12), ...ordered.slice(13, 21)]);
  });
});

describe('console API: every paged table walked to the end', () => {
  const EMAIL = 'pages@example.com';
  let running: Running;
  let client: ConsoleClient;
  before(async () => {
    running = await startConsoleHerald();
    await createAccount(running.origin, EMAIL);
    client = new ConsoleClient(running.origin);
    for (let i = 0; i < 4; i++) await new ConsoleClient(running.origin).signIn(EMAIL); // five sessions with this one
    await client.signIn(EMAIL);
    for (let i = 0; i < 30; i++) assert.equal((await client.request('POST', '/console/api/apps', { name: `app ${i}` })).status, 201);
    const quiet = () => {};
    assert.equal(await admin(['accounts', 'operator', EMAIL, '--data-dir', running.dataDir], quiet), 0);
    for (let i = 0; i < 7; i++) assert.equal(await admin(['nodes', 'add', 'push', `https://node${i}.example`, '--data-dir', running.dataDir], quiet), 0);
    const store = await running.store();
    for (let i = 0; i < 30; i++) await store.blockSenderKey({ keyHash: randomBytes(32), source: 'operator', reason: `feed ${i}`, blockedAt: 1_000 + Math.floor(i / 4) });
  });
  after(async () => running?.stop());

  async function walk(path: string, field: string, limit: number): Promise<Array<Record<string, unknown>>> {
    const seen: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const answer = await client.request('GET', `${path}?limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`);
      assert.equal(answer.status, 200, path);
      const rows = answer.body[field] as Array<Record<string, unknown>>;
      assert.ok(rows.length <= limit);
      seen.push(...rows);
      cursor = answer.body.next as string | null;
      if (cursor === null) return seen;
    }
    assert.fail(`${path} did not end`);
  }

  it('apps: pages of at most ?limit, each app once, oldest first; a bad cursor or limit is 400 errno 600', async () => {
    const apps = await walk('/console/api/apps', 'apps', 12);
    assert.equal(new Set(apps.map((app) => app.id)).size, 30);
    assert.deepEqual(apps.map((app) => app.name), Array.from({ length: 30 }, (_, i) => `app ${i}`));
    assert.equal(((await client.request('GET', '/console/api/apps')).body.apps as unknown[]).length, 25, 'the default page');
    const sessionsCursor = (await client.request('GET', '/console/api/sessions?limit=1')).body.next as string;
    for (const query of ['?cursor=garbage', '?limit=101', '?limit=0', '?offset=3', `?cursor=${sessionsCursor}`, `?cursor=${seal('c1|0000000000000001:x')}`]) {
      const answer = await client.request('GET', `/console/api/apps${query}`);
      assert.deepEqual([answer.status, answer.body.errno], [400, 600], query);
    }
  });

  it('sessions, nodes and the blocklist: every row once, in the table order', async () => {
    const sessions = await walk('/console/api/sessions', 'sessions', 2);
    // Five console sign-ins and the accounts session that /v1/account/create opened.
    assert.equal(new Set(sessions.map((each) => each.id)).size, 6);
    assert.deepEqual(sessions.map((each) => each.kind).sort(), ['accounts', ...Array(5).fill('console')]);
    const created = sessions.map((each) => each.createdAt as number);
    assert.deepEqual(created, [...created].sort((a, b) => a - b), 'oldest first');
    assert.equal(sessions.filter((each) => each.current).length, 1);
    const nodes = await walk('/console/api/operator/nodes', 'nodes', 3);
    assert.deepEqual(nodes.map((node) => node.url), Array.from({ length: 7 }, (_, i) => `https://node${i}.example`));
    const blocked = await walk('/console/api/operator/blocklist', 'blocklist', 8);
    assert.equal(new Set(blocked.map((entry) => entry.keyHash)).size, 30);
    const times = blocked.map((entry) => entry.blockedAt as number);
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
    const overview = (await client.request('GET', '/console/api/operator/overview')).body as { blocklist: { total: number; newest: unknown[]; next: string | null } };
    assert.equal(overview.blocklist.total, 30);
    assert.deepEqual(overview.blocklist.newest, blocked.slice(0, 25));
    for (const path of ['/console/api/sessions', '/console/api/operator/nodes', '/console/api/operator/blocklist', '/console/api/operator/bans']) {
      const answer = await client.request('GET', `${path}?cursor=${seal('c2|apps|1:' + 'a'.repeat(32))}`);
      assert.deepEqual([answer.status, answer.body.errno], [400, 600], path);
    }
  });
});
