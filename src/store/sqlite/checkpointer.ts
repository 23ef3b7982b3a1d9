import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/**
 * The checkpoint loop, as an eval'd CommonJS worker: it needs no build step and loads the same
 * better-sqlite3 addon. It runs a PASSIVE checkpoint each round and tells Herald when to RESTART.
 */
const CHECKPOINT_WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const Database = require(workerData.betterSqlite3);
  const db = new Database(workerData.path);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_size_limit = 67108864');
  let previousLog = -1;
  const pageSize = db.pragma('page_size', { simple: true });
  const checkpoint = () => {
    try {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)');
      // Under steady writes the writer never finds the WAL idle, so it keeps appending and the
      // file grows without bound (8 GB in two minutes at 3,000 msg/s). Once it is past the
      // bound and this passive round left little behind, Herald's own connection is asked to
      // RESTART it between two group commits (see restartWanted): done here, Herald's next
      // commit would sleep in SQLite's busy handler, whose back-off stalled the loop for 200 ms.
      const behind = result ? (result.log - result.checkpointed) * pageSize : 0;
      if (result && result.log * pageSize > workerData.restartBytes && behind < workerData.restartBehindBytes) {
        parentPort.postMessage('restart');
        previousLog = -1;
        return true;
      }
      // Quiet since the last round and fully copied back: truncate the WAL, so frames of deleted
      // (acked) messages do not linger in it (docs/privacy.md). busy_timeout 0: if Herald is
      // writing, skip rather than make it wait; under steady load the WAL is rewritten anyway.
      if (result && result.busy === 0 && result.log > 0 && result.log === result.checkpointed && result.log === previousLog) {
        db.pragma('busy_timeout = 0');
        try { db.pragma('wal_checkpoint(TRUNCATE)'); } finally { db.pragma('busy_timeout = 5000'); }
        previousLog = 0;
      } else {
        previousLog = result ? result.log : -1;
      }
      return Boolean(result && result.log * pageSize > workerData.restartBytes);
    } catch (error) { parentPort.postMessage(String(error)); return false; }
  };
  // Rounds come faster while the WAL is past its bound, so it is caught while little is behind.
  let timer;
  const schedule = (large) => {
    const delayMs = large ? Math.min(100, workerData.intervalMs) : workerData.intervalMs;
    timer = setTimeout(() => {
      const large = checkpoint();
      schedule(large);
    }, delayMs);
  };
  schedule();
  parentPort.on('message', (message) => {
    if (message !== 'stop') return;
    clearTimeout(timer);
    checkpoint();
    db.close();
    parentPort.close();
  });
  `;

/**
 * WAL checkpoints off the event loop.
 *
 * SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, on the
 * committing thread, and fsyncs the database file: with better-sqlite3 that is Herald's event
 * loop, and every device and sender waits for the disk (p99 latency went from ms to 100+ ms).
 * Instead the main connection never checkpoints (wal_autocheckpoint = 0) and this worker thread,
 * with its own connection to the same file, copies the WAL back into the database now and then.
 * A PASSIVE checkpoint never blocks the writer; the WAL is reused from the start once a
 * checkpoint has caught up. When the WAL has been quiet for a round, it is truncated to nothing, so
 * the pages of deleted (acked) messages do not stay in it.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  /**
   * `restartBytes`: a WAL longer than this is restarted as soon as it is caught up, so it stays
   * near that size under sustained writes (SQLITE's journal_size_limit then trims the file).
   */
  constructor(
    databasePath: string,
    /** Called when the WAL is past `restartBytes` and nearly copied back: restart it now, between writes. */
    private readonly restartWanted: () => void = () => {},
    intervalMs = 1000,
    restartBytes = 16 * 1024 * 1024,
  ) {
    this.worker = new Worker(
      CHECKPOINT_WORKER,
      { eval: true, workerData: { path: databasePath, intervalMs, restartBytes, restartBehindBytes: 2 * 1024 * 1024, betterSqlite3: require.resolve('better-sqlite3') } },
    );
    // A failed checkpoint loses nothing (the WAL keeps every commit); it only lets the WAL grow.
    this.worker.on('error', () => undefined);
    this.worker.on('message', (message: unknown) => {
      if (message === 'restart') this.restartWanted();
    });
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.unref();
  }

  /** One last checkpoint, then the worker's connection closes. */
  async stop(): Promise<void> {
    // Unref'd so it never keeps Herald alive on its own; held while it finishes.
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
