/**
 * The real Redis and PostgreSQL servers the bus and cluster tests need. When one is unreachable the
 * tests are skipped with a reason saying how to start it, except under CI, where they fail: a
 * cluster that was never tested must not look green.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';

export const redisUrl = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const postgresUrl = process.env.HERALD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const REDIS_HINT = 'start it with: redis-server --daemonize yes (or set HERALD_TEST_REDIS_URL)';
const POSTGRES_HINT = 'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set HERALD_TEST_POSTGRES_URL)';

/** null when Redis answers PING; else why not, with how to start it. */
export async function redisUnavailable(): Promise<string | null> {
  const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause = '';
  client.on('error', (error: Error) => {
    cause ||= error.message;
  });
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return `Redis is not reachable at ${shown(redisUrl)} (${cause || (error as Error).message}); ${REDIS_HINT}`;
  } finally {
    client.disconnect();
  }
}

/** null when PostgreSQL answers; else why not, with how to start it. */
export async function postgresUnavailable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return `PostgreSQL is not reachable at ${shown(postgresUrl)} (${(error as Error).message}); ${POSTGRES_HINT}`;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Runs `suite` (a describe) when every service answers. Otherwise, under CI, one failing test
 * names what is missing; elsewhere the suite is skipped with that reason.
 */
export function requireServices(reasons: Array<string | null>, suite: (skip: false | string) => void): void {
  const missing = reasons.filter((reason): reason is string => reason !== null);
  if (missing.length > 0 && inCi()) {
    test('the services these tests need are reachable', () => {
      assert.fail(`CI must run these tests against real services: ${missing.join('; ')}`);
    });
    return;
  }
  suite(missing.length === 0 ? false : missing.join('; '));
}

function inCi(): boolean {
  const ci = process.env.CI;
  return Boolean(ci) && ci !== 'false' && ci !== '0';
}

/** A key prefix no other test run uses. */
export function uniquePrefix(label: string): string {
  return `herald-test-${label}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every Redis key under the prefix. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

function shown(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable url)';
  }
}
