/**
 * A statement whose connection was killed under it (a backend terminated or restarted, a reset
 * TCP connection) says nothing about the statement: it is run once more, on a connection opened
 * for it, before anyone hears of a failure. Not through the pool: its other idle connections may
 * have died the same way without it knowing yet.
 *
 * Every statement of the store commits on its own, so running one again is safe; the one write
 * that could see its own first attempt (saveMessage, whose row is keyed by the message id) treats
 * that as success.
 */
import pg from 'pg';
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';

/** SQLSTATEs and socket errors of a connection that died: admin_shutdown, crash_shutdown, connection exceptions. */
const CONNECTION_LOST = new Set(['57P01', '57P02', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE']);

export function connectionLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_LOST.has(code)) return true;
  // pg's own words for a socket that closed under a query (not a connect that timed out).
  return /^(Connection terminated( unexpectedly)?|Client has encountered a connection error and is not queryable)$/.test(error.message);
}

export async function onFreshConnection<R extends QueryResultRow>(config: pg.ClientConfig, statement: QueryConfig): Promise<QueryResult<R>> {
  const client = new pg.Client(config);
  // A failure surfaces through connect() or query(); without a listener an 'error' event would end the process.
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.query<R>(statement);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A statement failed on its second attempt, after the connection of the first died: the first may
 * have committed (a group-committed save then finds its own row; message-batches.ts).
 */
export class RetriedAfterLoss extends Error {
  override name = 'RetriedAfterLoss';
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}
