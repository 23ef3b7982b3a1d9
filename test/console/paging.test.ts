/** Keyset pagination of the console's tables (src/console/paging.ts), alone and through GET /console/api/apps. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { page, sortKey } from '../../src/console/paging.js';
import type { Running } from '../helpers/herald.js';
import { ConsoleClient, createAccount, startConsoleHerald } from './harness.js';

describe('keyset pages', () => {
  const rows = Array.from({ length: 7 }, (_, i) => ({ id: `r${i}`, at: 100 - i }));
  const keyOf = (row: { id: string; at: number }) => sortKey(row.at, row.id);

  it('walks every row once, in key order, and a row added meanwhile does not shift the next page', () => {
    const first = page(rows, keyOf, { limit: 3 });
    assert.deepEqual(first.items.map((row) => row.at), [94, 95, 96]);
    const grown = [...rows, { id: 'new', at: 1 }]; // sorts before everything already seen
    const second = page(grown, keyOf, { limit: 3, cursor: first.next ?? '' });
    assert.deepEqual(second.items.map((row) => row.at), [97, 98, 99]);
    const last = page(grown, keyOf, { limit: 3, cursor: second.next ?? '' });
    assert.deepEqual(last.items.map((row) => row.at), [100]);
    assert.equal(last.next, null);
  });

  it('numbers compare as numbers (fixed width), not as text', () => {
    assert.ok(sortKey(9, 'a') < sortKey(10, 'a'));
  });
});

describe('console API: paginated apps', () => {
  let running: Running;
  let client: ConsoleClient;
  before(async () => {
    running = await startConsoleHerald();
    await createAccount(running.origin, 'pages@example.com');
    client = new ConsoleClient(running.origin);
    await client.signIn('pages@example.com');
    for (let i = 0; i < 30; i++) assert.equal((await client.request('POST', '/console/api/apps', { name: `app ${i}` })).status, 201);
  });
  after(async () => running?.stop());

  it('pages of at most ?limit apps, each once, until next is null; a bad cursor or limit is 400 errno 600', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer = await client.request('GET', `/console/api/apps?limit=12${cursor === null ? '' : `&cursor=${cursor}`}`);
      assert.equal(answer.status, 200);
      const apps = answer.body.apps as Array<{ id: string }>;
      assert.ok(apps.length <= 12);
      seen.push(...apps.map((app) => app.id));
      cursor = answer.body.next as string | null;
      pages++;
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.equal(new Set(seen).size, 30);
    assert.equal(((await client.request('GET', '/console/api/apps')).body.apps as unknown[]).length, 25, 'the default page');
    for (const query of ['?cursor=garbage', '?limit=101', '?limit=0', '?offset=3']) {
      const answer = await client.request('GET', `/console/api/apps${query}`);
      assert.equal(answer.status, 400, query);
      assert.equal(answer.body.errno, 600);
    }
  });
});
