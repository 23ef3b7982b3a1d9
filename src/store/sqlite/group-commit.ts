import type Database from 'better-sqlite3';

interface Job {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Result = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Group commit: writes requested in the same turn of the event loop share one transaction.
 *
 * A SQLite commit costs far more than the rows it writes (the WAL frame and header writes), so one
 * commit per message caps a file store at a few thousand messages per second. Each write still
 * resolves only after its transaction has committed, so "201 means stored" holds.
 *
 * A group runs plainly: BEGIN, every job, COMMIT, with no savepoint per job (a savepoint pair per
 * write cost as much as the write). Failures are rare (a message for a channel unregistered a
 * moment ago, a constraint), so only then is the group rolled back and replayed job by job, each
 * in its own savepoint: the failing write rolls back and rejects alone, the others commit.
 * A job may therefore run twice; jobs are store writes whose only effects outside the database
 * are idempotent (dropping cache entries).
 */
export class GroupCommit {
  private queue: Job[] = [];
  private scheduled = false;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly replayInSavepoints: (jobs: Job[]) => Result[];
  /** Bound flush, so scheduling allocates no closure per group. */
  private readonly flushLater = (): void => this.flush();

  constructor(private readonly db: Database.Database) {
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    const inSavepoint = db.transaction((run: () => unknown) => run());
    this.replayInSavepoints = db.transaction((jobs: Job[]) =>
      jobs.map((job): Result => {
        try {
          return { ok: true, value: inSavepoint(job.run) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  /** Runs `write` in the next group transaction; resolves with its result once committed. */
  write<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flushLater);
      }
    });
  }

  /** Commits everything queued now (also called before close, so no accepted write is dropped). */
  flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    if (jobs.length === 0) return;
    this.queue = [];
    const values = this.runPlainly(jobs);
    if (values) {
      for (let i = 0; i < jobs.length; i++) (jobs[i] as Job).resolve(values[i]);
      return;
    }
    let results: Result[];
    try {
      results = this.replayInSavepoints(jobs);
    } catch (error) {
      // The commit itself failed (disk full, I/O error, database locked): nothing of this group is stored.
      for (const job of jobs) job.reject(error);
      return;
    }
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i] as Job;
      const result = results[i] as Result;
      if (result.ok) job.resolve(result.value);
      else job.reject(result.error);
    }
  }

  /** The jobs' results when all of them ran and committed; null when the group was rolled back. */
  private runPlainly(jobs: Job[]): unknown[] | null {
    // Someone else's transaction is open (cannot happen while every write goes through here and
    // none awaits inside one): leave it alone and let the replay nest in savepoints.
    if (this.db.inTransaction) return null;
    try {
      this.begin.run();
    } catch {
      return null;
    }
    try {
      const values = new Array<unknown>(jobs.length);
      for (let i = 0; i < jobs.length; i++) values[i] = (jobs[i] as Job).run();
      this.commit.run();
      return values;
    } catch {
      // SQLite may have rolled back already (some errors end the transaction themselves).
      try {
        if (this.db.inTransaction) this.rollback.run();
      } catch {
        // The replay's BEGIN reports what is wrong with the connection.
      }
      return null;
    }
  }
}
