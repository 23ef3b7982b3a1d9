/**
 * What every store's migrations share, whatever the engine: the list a store hands its runner, the
 * rules that list must keep, and the errors a runner throws. The runners (sqlite-runner.ts,
 * postgres-runner.ts) do the engine's part: the table of applied versions, transactions, locking.
 */

/** One schema change. Never edit one that has shipped: add the next number instead. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Where a store records its migrations, and how errors name its database to the operator. */
export interface MigrationTarget {
  /** The table of applied versions, e.g. `schema_migrations` (a plain lowercase SQL name). */
  readonly table: string;
  /** The setting that points Herald at this database (`store.url`, `accounts.database`). */
  readonly setting: string;
}

/** What a run did: the version it found, the version it left, and the versions it applied. */
export interface MigrationOutcome {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly number[];
}

/** The list a store handed its runner breaks the numbering rules: a bug in Herald, caught before any SQL runs. */
export class MigrationListError extends Error {
  override readonly name = 'MigrationListError';
}

/** The database records a version this Herald does not know: it was migrated by a newer Herald. */
export class DatabaseNewerError extends Error {
  override readonly name = 'DatabaseNewerError';
  constructor(
    readonly databaseVersion: number,
    readonly codeVersion: number,
    target: MigrationTarget,
  ) {
    super(
      `the database of ${target.setting} is at schema version ${databaseVersion} (${target.table}), ` +
        `newer than this Herald knows (${codeVersion}); run a newer Herald or point ${target.setting} at another database`,
    );
  }
}

/** One migration's SQL failed; it was rolled back, and the ones before it stay recorded. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  constructor(
    readonly version: number,
    target: MigrationTarget,
    migrationName: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`migration ${version} (${migrationName}) of ${target.table} failed and was rolled back: ${reason}`, { cause });
  }
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks the list and the table name before anything touches the database, and returns the newest
 * version. Versions are 1, 2, … n in order: a gap or a duplicate would make "the database is at
 * version k" mean different schemas on different installations.
 */
export function checkMigrationList(migrations: readonly Migration[], target: MigrationTarget): number {
  if (!TABLE_NAME.test(target.table)) {
    throw new MigrationListError(`migrations table ${JSON.stringify(target.table)}: must be 1-63 lowercase letters, digits or _`);
  }
  migrations.forEach((migration, index) => {
    const expected = index + 1;
    if (migration.version !== expected) {
      const seen = migrations.slice(0, index).some((earlier) => earlier.version === migration.version);
      const problem = seen ? 'a duplicate' : migration.version < expected ? 'out of order' : 'a gap';
      throw new MigrationListError(
        `${target.table}: migration number ${String(migration.version)} at position ${expected} is ${problem}; ` +
          `versions must run 1, 2, 3… with no gaps or duplicates`,
      );
    }
    if (migration.name.trim() === '' || migration.sql.trim() === '') {
      throw new MigrationListError(`${target.table}: migration ${expected} needs a name and some SQL`);
    }
  });
  return migrations.length;
}

/** The migrations after `current`, or DatabaseNewerError when the database is ahead of the list. */
export function pendingMigrations(migrations: readonly Migration[], current: number, target: MigrationTarget): Migration[] {
  const latest = migrations.length;
  if (current > latest) throw new DatabaseNewerError(current, latest, target);
  return migrations.filter((migration) => migration.version > current);
}
