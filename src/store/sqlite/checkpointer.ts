import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

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

  constructor(databasePath: string, intervalMs = 1000) {
    // An eval'd CommonJS worker: it needs no build step and loads the same better-sqlite3 addon.
    this.worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const Database = require(workerData.betterSqlite3);
      const db = new Database(workerData.path);
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_size_limit = 67108864');
      let previousLog = -1;
      const checkpoint = () => {
        try {
          const [result] = db.pragma('wal_checkpoint(PASSIVE)');
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
        } catch (error) { parentPort.postMessage(String(error)); }
      };
      const timer = setInterval(checkpoint, workerData.intervalMs);
      parentPort.on('message', (message) => {
        if (message !== 'stop') return;
        clearInterval(timer);
        checkpoint();
        db.close();
        parentPort.close();
      });
      `,
      { eval: true, workerData: { path: databasePath, intervalMs, betterSqlite3: require.resolve('better-sqlite3') } },
    );
    // A failed checkpoint loses nothing (the WAL keeps every commit); it only lets the WAL grow.
    this.worker.on('error', () => undefined);
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
