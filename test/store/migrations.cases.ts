/**
 * The migration runner's scenarios, the same on every engine (store/migrations/): run against a
 * real SQLite database by migrations-sqlite.test.ts and a real PostgreSQL schema by
 * migrations-postgres.test.ts. The SQL below is plain enough for both.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DatabaseNewerError,
  MigrationFailedError,
  MigrationListError,
  type Migration,
  type MigrationOutcome,
} from '../../src/store/migrations/migration-list.js';

export const TABLE = 'test_schema_migrations';

export interface RecordedMigration {
  version: number;
  name: string;
  appliedAt: number;
}

/** One fresh, empty database (a file, a schema), gone after close(). */
export interface MigrationDatabase {
  /** The engine's runner on this database, recording in TABLE. */
  run(migrations: readonly Migration[]): Promise<MigrationOutcome>;
  /** TABLE's rows, by version. */
  recorded(): Promise<RecordedMigration[]>;
  /** The tables that exist, sorted. */
  tables(): Promise<string[]>;
  /** The rows of a table, as (id, body) or whatever it holds, for checking what a migration did. */
  rows(table: string): Promise<unknown[]>;
  close(): Promise<void>;
}

const notes: Migration = { version: 1, name: 'notes', sql: 'CREATE TABLE notes (id INTEGER NOT NULL PRIMARY KEY, body TEXT NOT NULL)' };
// Needs migration 1's table: it can only succeed when run after it.
const firstNote: Migration = { version: 2, name: 'first note', sql: "INSERT INTO notes (id, body) VALUES (1, 'from migration 2')" };
const tags: Migration = {
  version: 3,
  name: 'note tags',
  sql: `CREATE TABLE note_tags (note_id INTEGER NOT NULL, tag TEXT NOT NULL);
        INSERT INTO note_tags (note_id, tag) SELECT id, 'first' FROM notes`,
};
// Its first statement succeeds, its second fails: a rollback must undo the first.
const brokenTags: Migration = {
  version: 3,
  name: 'note tags',
  sql: `CREATE TABLE note_tags (note_id INTEGER NOT NULL, tag TEXT NOT NULL);
        INSERT INTO no_such_table (id) VALUES (1)`,
};
export const THREE: readonly Migration[] = [notes, firstNote, tags];

export function migrationRunnerCases(engine: string, open: () => Promise<MigrationDatabase>): void {
  /** A fresh database for `body`, closed (and dropped) after it whatever happens. */
  const withDatabase = async (body: (db: MigrationDatabase) => Promise<void>): Promise<void> => {
    const db = await open();
    try {
      await body(db);
    } finally {
      await db.close();
    }
  };

  describe(`migration runner on ${engine}`, () => {
    test('a fresh database gets every migration, in order, each recorded with its name and time', async () => {
      await withDatabase(async (db) => {
        const before = Date.now();
        const outcome = await db.run(THREE);
        assert.deepEqual(outcome, { from: 0, to: 3, applied: [1, 2, 3] });
        const recorded = await db.recorded();
        assert.deepEqual(recorded.map((r) => [r.version, r.name]), [[1, 'notes'], [2, 'first note'], [3, 'note tags']]);
        for (const row of recorded) assert.ok(row.appliedAt >= before && row.appliedAt <= Date.now(), `applied_at ${row.appliedAt}`);
        // Migration 3 copied the row migration 2 inserted into the table migration 1 made.
        assert.deepEqual(await db.rows('note_tags'), [{ note_id: 1, tag: 'first' }]);
      });
    });

    test('a second run finds nothing to do and records nothing again', async () => {
      await withDatabase(async (db) => {
        await db.run(THREE);
        const first = await db.recorded();
        const outcome = await db.run(THREE);
        assert.deepEqual(outcome, { from: 3, to: 3, applied: [] });
        assert.deepEqual(await db.recorded(), first);
        assert.deepEqual(await db.rows('notes'), [{ id: 1, body: 'from migration 2' }]);
      });
    });

    test('a database at an older version gets only the migrations after it', async () => {
      await withDatabase(async (db) => {
        await db.run([notes]);
        const outcome = await db.run(THREE);
        assert.deepEqual(outcome, { from: 1, to: 3, applied: [2, 3] });
        assert.deepEqual((await db.recorded()).map((r) => r.version), [1, 2, 3]);
      });
    });

    test('a failing migration is rolled back alone: the ones before it stay applied and recorded', async () => {
      await withDatabase(async (db) => {
        await assert.rejects(db.run([notes, firstNote, brokenTags]), (error: unknown) => {
          assert.ok(error instanceof MigrationFailedError, String(error));
          assert.equal(error.version, 3);
          assert.match(error.message, new RegExp(`^migration 3 \\(note tags\\) of ${TABLE} failed and was rolled back: .*no_such_table`));
          assert.ok(error.cause instanceof Error);
          return true;
        });
        assert.deepEqual((await db.recorded()).map((r) => r.version), [1, 2]);
        // The CREATE TABLE that ran before the failing statement went with it.
        assert.deepEqual(await db.tables(), ['notes', TABLE].sort());
        assert.deepEqual(await db.rows('notes'), [{ id: 1, body: 'from migration 2' }]);

        // Once fixed, the next start applies migration 3 and nothing else.
        assert.deepEqual(await db.run(THREE), { from: 2, to: 3, applied: [3] });
      });
    });

    const badLists: Array<[string, readonly Migration[], RegExp]> = [
      ['a gap (1, 3)', [notes, { ...tags, version: 3 }], /migration number 3 at position 2 is a gap/],
      ['a duplicate (1, 2, 2)', [notes, firstNote, { ...tags, version: 2 }], /migration number 2 at position 3 is a duplicate/],
      ['a list that does not start at 1', [{ ...notes, version: 2 }], /migration number 2 at position 1 is a gap/],
      ['an out-of-order list (1, 0)', [notes, { ...firstNote, version: 0 }], /migration number 0 at position 2 is out of order/],
      ['a migration without SQL', [notes, { ...firstNote, sql: '  ' }], /migration 2 needs a name and some SQL/],
    ];
    for (const [what, list, message] of badLists) {
      test(`${what} is refused before anything touches the database`, async () => {
        await withDatabase(async (db) => {
          await assert.rejects(db.run(list), (error: unknown) => {
            assert.ok(error instanceof MigrationListError, String(error));
            assert.match(error.message, message);
            return true;
          });
          assert.deepEqual(await db.tables(), []);
        });
      });
    }

    test('a database newer than the code is refused with a message naming both versions, and left as it is', async () => {
      await withDatabase(async (db) => {
        await db.run(THREE);
        const recorded = await db.recorded();
        await assert.rejects(db.run([notes, firstNote]), (error: unknown) => {
          assert.ok(error instanceof DatabaseNewerError, String(error));
          assert.equal(error.databaseVersion, 3);
          assert.equal(error.codeVersion, 2);
          assert.match(error.message, /is at schema version 3 \(test_schema_migrations\), newer than this Herald knows \(2\)/);
          assert.match(error.message, /run a newer Herald or point test\.setting at another database/);
          return true;
        });
        assert.deepEqual(await db.recorded(), recorded);
      });
    });
  });
}
