import type Database from 'better-sqlite3';

/**
 * Group commit: writes requested in the same turn of the event loop share one transaction.
 *
 * A SQLite commit costs far more than the rows it writes (the WAL frame and header writes,
 * checkpoints), so one commit per message caps a file store at a few thousand messages per second.
 * Each write still resolves only after its transaction has committed, so "201 means stored" holds.
 * Every write runs inside its own savepoint: one failing write (say, a message for a channel
 * that was just unregistered) rolls back alone and rejects alone.
 */
export class GroupCommit {
  private queue: Array<{ run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;
  private readonly commitAll: (jobs: GroupCommit['queue']) => Array<{ ok: true; value: unknown } | { ok: false; error: unknown }>;

  constructor(private readonly db: Database.Database) {
    const inSavepoint = db.transaction((run: () => unknown) => run());
    this.commitAll = db.transaction((jobs: GroupCommit['queue']) =>
      jobs.map((job) => {
        try {
          return { ok: true as const, value: inSavepoint(job.run) };
        } catch (error) {
          return { ok: false as const, error };
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
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits everything queued now (also called before close, so no accepted write is dropped). */
  flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    if (jobs.length === 0) return;
    this.queue = [];
    let results: ReturnType<GroupCommit['commitAll']>;
    try {
      results = this.commitAll(jobs);
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing of this group is stored.
      for (const job of jobs) job.reject(error);
      return;
    }
    results.forEach((result, index) => {
      const job = jobs[index] as (typeof jobs)[number];
      if (result.ok) job.resolve(result.value);
      else job.reject(result.error);
    });
  }
}
