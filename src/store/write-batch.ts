/**
 * The engine-neutral half of a group commit: writes requested while the store is busy (or in the
 * same turn of the event loop) are collected and handed to the backend together, so one round trip
 * or one commit serves many requests. The backend's `run` settles every job of a batch; a job is
 * resolved only once the batch that holds it has committed, so "201 means stored" holds.
 *
 * Batches may run concurrently up to `maxInFlight`; past that, new jobs wait and the next batch
 * takes all of them (the longer the database takes, the bigger the batches: classic group commit).
 */
export interface BatchJob<I, R> {
  readonly input: I;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export interface WriteBatchOptions<I, R> {
  /** Runs one batch and settles each of its jobs; a throw rejects those it left unsettled. */
  run(jobs: BatchJob<I, R>[]): Promise<void>;
  maxBatch: number;
  maxInFlight: number;
  /**
   * Jobs that must not share this batch with an earlier one (e.g. two replacements of one topic,
   * which one statement cannot both apply): returned true, the job waits for the next batch.
   */
  conflicts?(input: I, taken: Set<string>): boolean;
}

export class WriteBatch<I, R> {
  private queue: BatchJob<I, R>[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly flushLater = (): void => this.flush();

  constructor(private readonly options: WriteBatchOptions<I, R>) {}

  /** Queues one write; resolves with its result once its batch has committed. */
  write(input: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running (close waits for it, so no accepted write is cut off). */
  async settled(): Promise<void> {
    while (this.inFlight > 0 || this.queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(this.flushLater);
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const jobs = this.take();
      this.inFlight++;
      void this.runBatch(jobs);
    }
  }

  private take(): BatchJob<I, R>[] {
    const { maxBatch, conflicts } = this.options;
    if (!conflicts) return this.queue.splice(0, maxBatch);
    const taken = new Set<string>();
    const jobs: BatchJob<I, R>[] = [];
    const later: BatchJob<I, R>[] = [];
    for (const job of this.queue) {
      if (jobs.length < maxBatch && !conflicts(job.input, taken)) jobs.push(job);
      else later.push(job);
    }
    this.queue = later;
    return jobs;
  }

  private async runBatch(jobs: BatchJob<I, R>[]): Promise<void> {
    const settled = new Set<BatchJob<I, R>>();
    const tracked = jobs.map((job) => ({
      input: job.input,
      resolve: (value: R) => {
        settled.add(job);
        job.resolve(value);
      },
      reject: (error: unknown) => {
        settled.add(job);
        job.reject(error);
      },
    }));
    try {
      await this.options.run(tracked);
    } catch (error) {
      for (const job of jobs) if (!settled.has(job)) job.reject(error);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}
