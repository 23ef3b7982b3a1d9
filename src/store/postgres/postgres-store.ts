import pg from 'pg';
import type { QueryResultRow } from 'pg';
import type {
  BlockedSenderKey, ChannelRecord, DeviceBacklog, DeviceCertificateRecord, DeviceCertificateStore, EnrollmentCode,
  ExpirySweep, StoreStats, DeviceRecord, FetchOptions, ForwardedHeaders, NewMessage, RecordedSecretFingerprint, SecretFingerprint,
  Store, StoredMessage, Urgency, WakeupAddress
} from '../types.js';
import { SubscriptionMissingError, type BlockedKeyCursor } from '../types.js';
import { AFTER_ALL_BLOCKED, rowsToRead, type KeysetQuery } from '../keyset.js';
import { PostgresDeviceCertificates } from './device-certificates.js';
import { PostgresAppStats } from './app-stats.js';
import { ChannelCache } from '../channel-cache.js';
import { expirySweepOf, type ExpiredGroupRow } from '../expiry-sweep.js';
import { connectionLost, onFreshConnection, RetriedAfterLoss } from './fresh-connection.js';
import { PostgresMessageBatches } from './message-batches.js';
import { runPostgresMigrations } from '../migrations/postgres-runner.js';
import { migrations } from './migrations.js';
import { createPostgresPool } from './pool.js';
import { listSecretFingerprints, recordSecretFingerprints } from './secret-fingerprints.js';
import { sql, toBlockedSenderKey, toChannelRecord, toNumber, toStoredMessage, type BlockedRow, type ChannelRow, type CountRow, type DeviceRow, type MessageRow, type StatementName, type StatsCountsRow, type StatsPendingRow, toStoreStats, type WakeupRow } from './statements.js';

export { sql } from './statements.js';

export interface PostgresStoreOptions {
  /** A `postgres://` url for `pg` (without Herald's own parameters; see url.ts). */
  connectionString: string;
  /** Keep the tables in this schema (created by migrate() if missing) rather than the server's default. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Extra server options (`-c name=value …`) to send at connect, beside the store's own. */
  serverOptions?: string;
  /** How long to wait for a new connection before failing. Default 10 s. */
  connectionTimeoutMillis?: number;
  /** A statement is run again on a fresh connection because its connection died under it (metrics). */
  onRetry?(error: unknown): void;
}

export const DEFAULT_POOL_SIZE = 10;
/** Devices whose channels each node keeps for the endpoint's check (channel-cache.ts). */
const CHANNEL_CACHE_DEVICES = 100_000;
/** How long a node trusts a cached channel that another node may have changed (channel-cache.ts). */
const CHANNEL_CACHE_MAX_AGE_MS = 5_000;

// Advisory lock keys (two int4 keys); the first says what the lock is for (statements.ts has the other).
const MIGRATION_LOCK = 0x4865_7200; // "Her\0"

/** PostgreSQL's "undefined_table": the schema has not been migrated. */
const UNDEFINED_TABLE = '42P01';
/** The only foreign key a message insert can break is its channel's. */
const FOREIGN_KEY_VIOLATION = '23503';
const UNIQUE_VIOLATION = '23505';

/**
 * The scale-out backend: many Herald processes share one PostgreSQL database. Every method is a
 * single statement (one round trip) on a pooled connection, committed on its own; message saves
 * and deletes of concurrent requests share one statement (message-batches.ts).
 */
export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly schema: string | null;
  /** How a connection of the pool is opened (a retry opens one the same way). */
  private readonly connection: pg.ClientConfig;
  private readonly onRetry: (error: unknown) => void;
  private closed = false;
  private readonly certificates: PostgresDeviceCertificates;
  readonly appStats: PostgresAppStats;
  private readonly channels = new ChannelCache(CHANNEL_CACHE_DEVICES, CHANNEL_CACHE_MAX_AGE_MS);
  /** Group commit of saves and acks (read by tests: batches run). */
  readonly messageBatches = new PostgresMessageBatches((name, values) => this.run(name, values));

  constructor(options: PostgresStoreOptions) {
    const opened = createPostgresPool({
      connectionString: options.connectionString,
      schema: options.schema,
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      serverOptions: options.serverOptions,
      connectionTimeoutMillis: options.connectionTimeoutMillis,
      label: 'postgres store',
    });
    this.pool = opened.pool;
    this.connection = opened.connection;
    this.schema = opened.schema;
    this.onRetry = options.onRetry ?? (() => {});
    this.certificates = new PostgresDeviceCertificates(this.pool);
    this.appStats = new PostgresAppStats(this.pool);
  }

  /** The shared runner (store/migrations/postgres-runner.ts): each migration in its own transaction, under the lock. */
  async migrate(): Promise<void> {
    const target = { table: 'schema_migrations', setting: 'store.url', schema: this.schema, lockKey: MIGRATION_LOCK };
    await runPostgresMigrations(this.pool, migrations, target);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Writes already queued are committed (or failed) first: close cuts off no accepted request.
    await this.messageBatches.settled();
    this.closed = true;
    await this.pool.end();
  }

  async ping(): Promise<void> {
    await this.retried({ text: 'SELECT 1' });
  }

  async getDevice(uaid: string): Promise<DeviceRecord | null> {
    const [row] = await this.run<DeviceRow>('getDevice', [uaid]);
    return row ? { uaid: row.uaid, createdAt: toNumber(row.created_at), lastSeenAt: toNumber(row.last_seen_at) } : null;
  }

  async upsertDevice(uaid: string, now: number): Promise<void> {
    await this.run('upsertDevice', [uaid, now]);
  }

  async touchDevice(uaid: string, now: number): Promise<boolean> {
    return (await this.change('touchDevice', [uaid, now])) > 0;
  }

  // Channel writes drop their cache entries before and after the write (a racing read cannot
  // leave the old entry behind); other nodes' writes: channel-cache.ts.

  async dropDevice(uaid: string): Promise<boolean> {
    this.channels.forgetDevice(uaid);
    const dropped = (await this.change('dropDevice', [uaid])) > 0;
    this.channels.forgetDevice(uaid);
    return dropped;
  }

  async putChannel(channel: ChannelRecord): Promise<void> {
    this.channels.forgetChannel(channel.uaid, channel.channelId);
    await this.run('putChannel', [channel.uaid, channel.channelId, channel.senderKeyHash, channel.createdAt]);
    this.channels.forgetChannel(channel.uaid, channel.channelId);
  }

  async getChannel(uaid: string, channelId: string): Promise<ChannelRecord | null> {
    const cached = this.channels.get(uaid, channelId);
    if (cached) return cached;
    const [row] = await this.run<ChannelRow>('getChannel', [uaid, channelId]);
    if (!row) return null;
    const channel = toChannelRecord(row);
    this.channels.set(channel);
    return channel;
  }

  async deleteChannel(uaid: string, channelId: string): Promise<boolean> {
    this.channels.forgetChannel(uaid, channelId);
    const deleted = (await this.change('deleteChannel', [uaid, channelId])) > 0;
    this.channels.forgetChannel(uaid, channelId);
    return deleted;
  }

  async countChannels(uaid: string): Promise<number> {
    const [row] = await this.run<CountRow>('countChannels', [uaid]);
    return row ? toNumber(row.n) : 0;
  }

  async countChannelsBySenderKey(keyHash: Buffer): Promise<number> {
    const [row] = await this.run<CountRow>('countChannelsBySenderKey', [keyHash]);
    return row ? toNumber(row.n) : 0;
  }

  async saveMessage(message: NewMessage): Promise<void> {
    // The binding the endpoint was shown from the cache is the one the row must still have.
    const cached = this.channels.get(message.uaid, message.channelId);
    try {
      await this.messageBatches.save({ message, expectedKey: cached === undefined ? undefined : cached.senderKeyHash });
    } catch (error) {
      // Unregistered or re-bound meanwhile (maybe through another node): the cache learns it too.
      if (error instanceof SubscriptionMissingError) this.channels.forgetChannel(message.uaid, message.channelId);
      throw error;
    }
  }

  async fetchMessages(uaid: string, options: FetchOptions): Promise<StoredMessage[]> {
    const limit = Math.max(0, Math.floor(options.limit));
    const after = options.after ?? { topicSeq: 0, seq: 0 };
    const rows = await this.run<MessageRow>('fetchMessages', [uaid, after.topicSeq, after.seq, options.now, limit]);
    return rows.map(toStoredMessage);
  }

  async getMessage(uaid: string, id: string, now: number): Promise<StoredMessage | null> {
    const [row] = await this.run<MessageRow>('getMessage', [uaid, id, now]);
    return row ? toStoredMessage(row) : null;
  }

  async deleteMessage(uaid: string, id: string): Promise<boolean> {
    return this.messageBatches.delete(uaid, id);
  }

  async countMessages(uaid: string, now: number): Promise<number> {
    const [row] = await this.run<CountRow>('countMessages', [uaid, now]);
    return row ? toNumber(row.n) : 0;
  }

  async stats(now: number): Promise<StoreStats> {
    const [counts] = await this.run<StatsCountsRow>('statsCounts', [now]);
    const [pending] = await this.run<StatsPendingRow>('statsPending', [now]);
    const [largest] = await this.run<CountRow>('statsLargest', [now]);
    return toStoreStats(counts, pending, largest);
  }

  async countChannelMessages(uaid: string, channelId: string, now: number): Promise<number> {
    const [row] = await this.run<CountRow>('countChannelMessages', [uaid, channelId, now]);
    return row ? toNumber(row.n) : 0;
  }

  async deviceBacklog(uaid: string, now: number): Promise<DeviceBacklog> {
    const [row] = await this.run<CountRow & { bytes: string }>('deviceBacklog', [uaid, now]);
    return { messages: row ? toNumber(row.n) : 0, bytes: row ? toNumber(row.bytes) : 0 };
  }

  async sweepExpiredMessages(now: number): Promise<ExpirySweep> {
    return expirySweepOf(await this.run<ExpiredGroupRow>('sweepExpiredMessages', [now]));
  }

  async sweepIdleDevices(before: number): Promise<number> {
    // The row count is the devices only; their channels and messages cascade.
    const swept = await this.change('sweepIdleDevices', [before]);
    if (swept > 0) this.channels.clear(); // which devices went is not known; the sweep is rare
    return swept;
  }

  async blockSenderKey(entry: BlockedSenderKey): Promise<boolean> {
    return (await this.change('blockSenderKey', [entry.keyHash, entry.source, entry.reason, entry.blockedAt])) > 0;
  }

  async unblockSenderKey(keyHash: Buffer): Promise<boolean> {
    return (await this.change('unblockSenderKey', [keyHash])) > 0;
  }

  async isSenderKeyBlocked(keyHash: Buffer): Promise<boolean> {
    return (await this.run('isSenderKeyBlocked', [keyHash])).length > 0;
  }

  async listBlockedSenderKeys(): Promise<BlockedSenderKey[]> {
    const rows = await this.run<BlockedRow>('listBlockedSenderKeys', []);
    return rows.map(toBlockedSenderKey);
  }

  async listBlockedSenderKeysPage(query: KeysetQuery<BlockedKeyCursor>): Promise<BlockedSenderKey[]> {
    const after = query.after ?? AFTER_ALL_BLOCKED;
    const rows = await this.run<BlockedRow>('listBlockedSenderKeysPage', [after.at, after.keyHash, rowsToRead(query)]);
    return rows.map(toBlockedSenderKey);
  }

  async countBlockedSenderKeys(): Promise<number> {
    const [row] = await this.run<CountRow>('countBlockedSenderKeys', []);
    return row ? toNumber(row.n) : 0;
  }

  async setWakeupAddress(uaid: string, address: WakeupAddress): Promise<boolean> {
    // A device dropped between the EXISTS check and the insert fails the foreign key: same answer.
    const written = await this.change('setWakeupAddress', [uaid, address.host, address.port, address.keyId, address.updatedAt]).catch(
      (error: unknown) => {
        if (error instanceof pg.DatabaseError && error.code === FOREIGN_KEY_VIOLATION) return 0;
        throw error;
      },
    );
    return written > 0;
  }

  async getWakeupAddress(uaid: string): Promise<WakeupAddress | null> {
    const [row] = await this.run<WakeupRow>('getWakeupAddress', [uaid]);
    return row ? { host: row.host, port: row.port, keyId: row.key_id, updatedAt: toNumber(row.updated_at) } : null;
  }

  async deleteWakeupAddress(uaid: string): Promise<boolean> {
    return (await this.change('deleteWakeupAddress', [uaid])) > 0;
  }

  async bindDeviceOwner(uaid: string, owner: string, now: number): Promise<boolean> {
    // A device dropped between the EXISTS check and the insert fails the foreign key: not bound.
    await this.change('bindDeviceOwner', [uaid, owner, now]).catch((error: unknown) => {
      if (error instanceof pg.DatabaseError && error.code === FOREIGN_KEY_VIOLATION) return 0;
      throw error;
    });
    return (await this.getDeviceOwner(uaid)) === owner;
  }

  async getDeviceOwner(uaid: string): Promise<string | null> {
    const [row] = await this.run<{ owner: string }>('getDeviceOwner', [uaid]);
    return row?.owner ?? null;
  }

  async dropDevicesOwnedBy(owner: string): Promise<number> {
    const dropped = await this.change('dropDevicesOwnedBy', [owner]);
    if (dropped > 0) this.channels.clear();
    return dropped;
  }

  async listSecretFingerprints(): Promise<RecordedSecretFingerprint[]> {
    return listSecretFingerprints(this.pool);
  }

  async recordSecretFingerprints(keys: readonly SecretFingerprint[], sealing: readonly SecretFingerprint[], now: number): Promise<void> {
    await recordSecretFingerprints(this.pool, keys, sealing, now);
  }

  // Device certificates and enrollment codes (device-certificates.ts).
  recordDeviceCertificate(record: Parameters<DeviceCertificateStore['recordDeviceCertificate']>[0]): Promise<void> {
    return this.certificates.recordDeviceCertificate(record);
  }
  getDeviceCertificate(serial: string): Promise<DeviceCertificateRecord | null> {
    return this.certificates.getDeviceCertificate(serial);
  }
  revokeDeviceCertificate(serial: string, reason: string, now: number): Promise<boolean> {
    return this.certificates.revokeDeviceCertificate(serial, reason, now);
  }
  listDeviceCertificates(): Promise<DeviceCertificateRecord[]> {
    return this.certificates.listDeviceCertificates();
  }
  createEnrollmentCode(code: EnrollmentCode): Promise<void> {
    return this.certificates.createEnrollmentCode(code);
  }
  consumeEnrollmentCode(codeHash: Buffer, now: number): Promise<EnrollmentCode | null> {
    return this.certificates.consumeEnrollmentCode(codeHash, now);
  }

  private async run<R extends QueryResultRow>(name: StatementName, values: unknown[]): Promise<R[]> {
    return (await this.query<R>(name, values)).rows;
  }

  /** Rows a write statement touched. */
  private async change(name: StatementName, values: unknown[]): Promise<number> {
    return (await this.query(name, values)).rowCount ?? 0;
  }

  private async query<R extends QueryResultRow>(name: StatementName, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.retried<R>({ name: `herald_${name}`, text: sql[name], values });
    } catch (error) {
      if (error instanceof pg.DatabaseError && error.code === UNDEFINED_TABLE) {
        throw new Error('PostgresStore: the schema is missing or out of date; run migrate() before use', { cause: error });
      }
      throw error;
    }
  }

  /** On the pool; once more on a fresh connection when the pool's died under it (fresh-connection.ts). */
  private async retried<R extends QueryResultRow>(statement: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(statement);
    } catch (error) {
      if (this.closed || !connectionLost(error)) throw error;
      this.onRetry(error);
      return onFreshConnection<R>(this.connection, statement).catch((second: unknown) => {
        // The first attempt committed before its connection died: the retry found its own row.
        const own = statement.name === 'herald_saveMessage' && second instanceof pg.DatabaseError && second.code === UNIQUE_VIOLATION;
        if (own && second.constraint === 'messages_uaid_id') return { rows: [], rowCount: 1, command: 'INSERT', oid: 0, fields: [] };
        // A batch of saves sorts out which rows were its own (message-batches.ts).
        if (statement.name === 'herald_saveMessages') throw new RetriedAfterLoss(second);
        throw second;
      });
    }
  }
}
