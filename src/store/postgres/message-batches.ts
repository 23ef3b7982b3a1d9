/**
 * Group commit for the PostgreSQL store: the message saves (POSTs) and deletes (acks) of
 * concurrent requests go to the server together, one statement and one round trip per batch
 * (statements.ts: saveMessages, deleteMessages), each committed on its own. A request's promise
 * settles only after the statement that holds its row has committed.
 *
 * A batch that fails as a whole (one row with a bad value, a deadlock, a lost connection) is run
 * again row by row, each row alone in the same statement: the bad row fails with its own error and
 * its neighbours commit. A save whose batch may have committed before its connection died and that
 * then finds its own id taken has been stored (ids are 128 random bits).
 */
import pg from 'pg';
import type { QueryResultRow } from 'pg';
import type { NewMessage } from '../types.js';
import { SubscriptionMissingError } from '../types.js';
import { WriteBatch, type BatchJob } from '../write-batch.js';
import { connectionLost, RetriedAfterLoss } from './fresh-connection.js';

/** Runs a named statement of statements.ts (the store's query, with its retry on a fresh connection). */
export type RunStatement = <R extends QueryResultRow>(name: 'saveMessages' | 'deleteMessages', values: unknown[]) => Promise<R[]>;

export interface SaveJob {
  message: NewMessage;
  /** The sender key binding the endpoint checked against a cached channel; undefined: not checked. */
  expectedKey: Buffer | null | undefined;
}

interface DeleteJob {
  uaid: string;
  id: string;
}

const MAX_BATCH = 256;
/**
 * Delete batches on the wire at once; the pool has more connections for everything else. Saves
 * go one batch at a time: a job held back from a batch (a second replacement of one topic) must
 * commit after it, and two batches in flight commit in whichever order the server finishes them.
 */
const MAX_DELETES_IN_FLIGHT = 4;
const MAX_SAVES_IN_FLIGHT = 1;
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

export class PostgresMessageBatches {
  private readonly saves: WriteBatch<SaveJob, void>;
  private readonly deletes: WriteBatch<DeleteJob, boolean>;
  /** Batches run (tests and metrics: fewer than the writes they carried). */
  batches = 0;

  constructor(private readonly run: RunStatement) {
    this.saves = new WriteBatch<SaveJob, void>({
      run: (jobs) => this.runSaves(jobs),
      maxBatch: MAX_BATCH,
      maxInFlight: MAX_SAVES_IN_FLIGHT,
      // Two replacements of one topic cannot both go through one ON CONFLICT: the second waits.
      conflicts: ({ message }, taken) => {
        if (message.topic === null) return false;
        const key = `${message.uaid}\n${message.channelId}\n${message.topic}`;
        if (taken.has(key)) return true;
        taken.add(key);
        return false;
      },
    });
    this.deletes = new WriteBatch<DeleteJob, boolean>({ run: (jobs) => this.runDeletes(jobs), maxBatch: MAX_BATCH, maxInFlight: MAX_DELETES_IN_FLIGHT });
  }

  save(job: SaveJob): Promise<void> {
    return this.saves.write(job);
  }

  delete(uaid: string, id: string): Promise<boolean> {
    return this.deletes.write({ uaid, id });
  }

  /** Every queued and running batch has settled. */
  async settled(): Promise<void> {
    await Promise.all([this.saves.settled(), this.deletes.settled()]);
  }

  private async runSaves(jobs: BatchJob<SaveJob, void>[]): Promise<void> {
    this.batches++;
    let written: Set<string>;
    try {
      written = await this.insert(jobs.map((job) => job.input));
    } catch (error) {
      const lost = connectionLost(error) || error instanceof RetriedAfterLoss;
      if (jobs.length > 1) return this.saveOneByOne(jobs, lost);
      if (lost && isOwnRow(error)) return (jobs[0] as BatchJob<SaveJob, void>).resolve();
      throw mapSaveError(error);
    }
    for (const job of jobs) {
      if (written.has(job.input.message.id)) job.resolve();
      else job.reject(new SubscriptionMissingError());
    }
  }

  /** In arrival order, one after the other: run side by side, a later row could take an earlier one's place (its id, its topic). */
  private async saveOneByOne(jobs: BatchJob<SaveJob, void>[], mayHaveCommitted: boolean): Promise<void> {
    for (const job of jobs) {
      try {
        const written = await this.insert([job.input]);
        if (written.has(job.input.message.id)) job.resolve();
        else job.reject(new SubscriptionMissingError());
      } catch (error) {
        if ((mayHaveCommitted || error instanceof RetriedAfterLoss) && isOwnRow(error)) job.resolve();
        else job.reject(mapSaveError(error));
      }
    }
  }

  /** One statement for all of them; the ids of the rows it wrote. */
  private async insert(inputs: SaveJob[]): Promise<Set<string>> {
    const rows = await this.run<{ id: string }>('saveMessages', saveParameters(inputs));
    return new Set(rows.map((row) => row.id));
  }

  private async runDeletes(jobs: BatchJob<DeleteJob, boolean>[]): Promise<void> {
    this.batches++;
    const rows = await this.run<{ uaid: string; id: string }>('deleteMessages', [jobs.map((j) => j.input.uaid), jobs.map((j) => j.input.id)]);
    const gone = new Set(rows.map((row) => `${row.uaid}\n${row.id}`));
    for (const job of jobs) {
      const key = `${job.input.uaid}\n${job.input.id}`;
      // Two deletes of one message in a batch: the first removed it (as one after the other would).
      job.resolve(gone.delete(key));
    }
  }
}

/**
 * The parameters of statements.ts' saveMessages: a column array per field, except the bodies and
 * the key hashes, which go as one Buffer each (binary on the wire) with their lengths in a column.
 */
export function saveParameters(inputs: readonly SaveJob[]): unknown[] {
  const column = <T>(of: (job: SaveJob) => T): T[] => inputs.map(of);
  const bodies: Buffer[] = [];
  const keys: Buffer[] = [];
  for (const { message, expectedKey } of inputs) {
    if (message.data !== null) bodies.push(message.data);
    if (expectedKey) keys.push(expectedKey);
  }
  return [
    column(({ message }) => message.uaid),
    column(({ message }) => message.id),
    column(({ message }) => message.channelId),
    column(({ message }) => message.topic),
    column(({ message }) => message.urgency),
    column(({ message }) => message.ttl),
    column(({ message }) => message.receivedAt),
    column(({ message }) => message.expiresAt),
    column(({ message }) => (message.data === null ? -1 : message.data.length)),
    column(({ message }) => (message.headers === null ? null : JSON.stringify(message.headers))),
    column(({ expectedKey }) => expectedKey !== undefined),
    // 0: a v1 binding (null) or not checked.
    column(({ expectedKey }) => (expectedKey ? expectedKey.length : 0)),
    Buffer.concat(bodies),
    Buffer.concat(keys),
  ];
}

/** The save's id is taken: by its own row, when an attempt before a lost connection committed. */
function isOwnRow(error: unknown): boolean {
  const cause = error instanceof RetriedAfterLoss ? error.cause : error;
  return cause instanceof pg.DatabaseError && cause.code === UNIQUE_VIOLATION && cause.constraint === 'messages_uaid_id';
}

function mapSaveError(failure: unknown): unknown {
  const error = failure instanceof RetriedAfterLoss ? failure.cause : failure;
  // The channel was unregistered between the endpoint's check and this save.
  if (error instanceof pg.DatabaseError && error.code === FOREIGN_KEY_VIOLATION) return new SubscriptionMissingError();
  return error;
}
