/**
 * The SQLite group commit (src/store/sqlite/group-commit.ts) on a real database, through its
 * failure branches: a COMMIT that fails rejects every write of the group and stores none of them
 * (the sender then gets 503, never 201); a write that fails alone is rolled back alone while the
 * rest of its group commits. Issue 16 item 8: these branches never ran in the suite before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../src/store/sqlite/group-commit.js';
import { CHANNEL_A, startHerald, subscribedDevice } from '../helpers/herald.js';
import { post } from '../helpers/sender.js';

function database(): Database.Database {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  db.exec(`
    CREATE TABLE parents (id INTEGER PRIMARY KEY);
    -- Checked at COMMIT: a row naming a missing parent makes the COMMIT itself fail.
    CREATE TABLE late (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO parents (id) VALUES (1);
  `);
  return db;
}

function settle<T>(promises: Promise<T>[]): Promise<Array<PromiseSettledResult<T>>> {
  return Promise.allSettled(promises);
}

describe('SQLite group commit', () => {
  it('a failing COMMIT rejects every write of its group and stores none of them', async () => {
    const db = database();
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO rows (id, value) VALUES (?, ?)');
    const writes = [
      group.write(() => insert.run(1, 'a')),
      group.write(() => insert.run(2, 'b')),
      // Passes when it runs, fails the COMMIT: the deferred key has no parent 99.
      group.write(() => db.prepare('INSERT INTO late (id, parent) VALUES (1, 99)').run()),
    ];
    const results = await settle(writes);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected', 'rejected'],
    );
    for (const result of results) assert.match(String((result as PromiseRejectedResult).reason), /FOREIGN KEY/);
    assert.equal((db.prepare('SELECT count(*) AS n FROM rows').get() as { n: number }).n, 0, 'nothing of the group is stored');
    assert.equal(db.inTransaction, false, 'no transaction is left open');
    // The next group commits normally.
    await group.write(() => insert.run(3, 'c'));
    assert.equal((db.prepare('SELECT count(*) AS n FROM rows').get() as { n: number }).n, 1);
    db.close();
  });

  it('a write that fails alone is rolled back alone; the rest of its group commits', async () => {
    const db = database();
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO rows (id, value) VALUES (?, ?)');
    const results = await settle([
      group.write(() => insert.run(1, 'a')),
      group.write(() => insert.run(1, 'duplicate')),
      group.write(() => insert.run(2, 'b')),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(db.prepare('SELECT id, value FROM rows ORDER BY id').all(), [
      { id: 1, value: 'a' },
      { id: 2, value: 'b' },
    ]);
    db.close();
  });

  it('a write that would run inside a transaction left open by someone else still commits or rejects on its own', async () => {
    const db = database();
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO rows (id, value) VALUES (?, ?)');
    db.exec('BEGIN');
    const write = group.write(() => insert.run(1, 'a'));
    await new Promise((resolve) => setImmediate(resolve));
    // The group nested in a savepoint of the open transaction: it is visible inside it.
    await write;
    db.exec('ROLLBACK');
    assert.equal((db.prepare('SELECT count(*) AS n FROM rows').get() as { n: number }).n, 0, 'the outer transaction decides');
    db.close();
  });
});

describe('a store write that fails under a sender', () => {
  it('answers 503 errno 201, never 201, and the device gets nothing', async () => {
    const running = await startHerald();
    const { device, endpoint, uaid } = await subscribedDevice(running.wsUrl, CHANNEL_A);
    device.close();
    await device.closed;
    // Another connection makes every message insert fail, as a full disk or an I/O error would.
    const other = new Database(`${running.dataDir}/herald.db`);
    other.exec("CREATE TRIGGER injected_failure BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    try {
      const response = await post(endpoint, { TTL: '600' });
      assert.equal(response.status, 503);
      assert.equal(((await response.json()) as { errno: number }).errno, 201);
      other.exec('DROP TRIGGER injected_failure');
      assert.equal(await (await running.store()).countMessages(uaid, 0), 0, 'nothing was stored');
      assert.equal((await post(endpoint, { TTL: '600' })).status, 201, 'the next send, with the fault gone, is stored');
    } finally {
      other.close();
      await running.stop();
    }
  });
});
