import pg from 'pg';
import type { QueryResultRow } from 'pg';
import type {
  BlockedSenderKey,
  ChannelRecord,
  DeviceBacklog,
  DeviceCertificateRecord,
  DeviceCertificateStore,
  EnrollmentCode,
  StoreStats,
  DeviceRecord,
  FetchOptions,
  ForwardedHeaders,
  NewMessage,
  RecordedSecretFingerprint,
  SecretFingerprint,
  Store,
  StoredMessage,
  Urgency,
  WakeupAddress,
} from '../types.js';
import { SubscriptionMissingError } from '../types.js';
import { PostgresDeviceCertificates } from './device-certificates.js';
import { PostgresAppStats } from './app-stats.js';
import { connectionLost, onFreshConnection } from './fresh-connection.js';
import { runPostgresMigrations } from '../migrations/postgres-runner.js';
import { migrations } from './migrations.js';
import { createPostgresPool } from './pool.js';
import { listSecretFingerprints, recordSecretFingerprints } from './secret-fingerprints.js';
import { sql, toNumber, toStoredMessage, type BlockedRow, type ChannelRow, type CountRow, type DeviceRow, type MessageRow, type StatementName, type WakeupRow } from './statements.js';

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

// Advisory lock keys (two int4 keys); the first says what the lock is for (statements.ts has the other).
const MIGRATION_LOCK = 0x4865_7200; // "Her\0"

/** PostgreSQL's "undefined_table": the schema has not been migrated. */
const UNDEFINED_TABLE = '42P01';
/** The only foreign key a message insert can break is its channel's. */
const FOREIGN_KEY_VIOLATION = '23503';
const UNIQUE_VIOLATION = '23505';

/**
 * The scale-out backend: many Herald processes share one PostgreSQL database. Every method is a
 * single statement (one round trip) on a pooled connection, committed on its own.
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

  async dropDevice(uaid: string): Promise<boolean> {
    return (await this.change('dropDevice', [uaid])) > 0;
  }

  async putChannel(channel: ChannelRecord): Promise<void> {
    await this.run('putChannel', [channel.uaid, channel.channelId, channel.senderKeyHash, channel.createdAt]);
  }

  async getChannel(uaid: string, channelId: string): Promise<ChannelRecord | null> {
    const [row] = await this.run<ChannelRow>('getChannel', [uaid, channelId]);
    if (!row) return null;
    return {
      uaid: row.uaid,
      channelId: row.channel_id,
      senderKeyHash: row.sender_key_hash,
      createdAt: toNumber(row.created_at),
    };
  }

  async deleteChannel(uaid: string, channelId: string): Promise<boolean> {
    return (await this.change('deleteChannel', [uaid, channelId])) > 0;
  }

  async countChannels(uaid: string): Promise<number> {
    const [row] = await this.run<CountRow>('countChannels', [uaid]);
    return row ? toNumber(row.n) : 0;
  }

  async saveMessage(message: NewMessage): Promise<void> {
    await this.run('saveMessage', [
      message.uaid,
      message.id,
      message.channelId,
      message.topic,
      message.urgency,
      message.ttl,
      message.receivedAt,
      message.expiresAt,
      message.data,
      message.headers === null ? null : JSON.stringify(message.headers),
    ]).catch((error: unknown) => {
      // The channel was unregistered between the endpoint's check and this save.
      if (error instanceof pg.DatabaseError && error.code === FOREIGN_KEY_VIOLATION) throw new SubscriptionMissingError();
      throw error;
    });
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
    return (await this.change('deleteMessage', [uaid, id])) > 0;
  }

  async countMessages(uaid: string, now: number): Promise<number> {
    const [row] = await this.run<CountRow>('countMessages', [uaid, now]);
    return row ? toNumber(row.n) : 0;
  }

  async stats(now: number): Promise<StoreStats> {
    const [counts] = await this.run<{ devices: string; channels: string; expired: string }>('statsCounts', [now]);
    const [pending] = await this.run<{ n: string; devices: string; oldest: string | null; bytes: string }>('statsPending', [now]);
    const [largest] = await this.run<CountRow>('statsLargest', [now]);
    return {
      devices: counts ? toNumber(counts.devices) : 0,
      channels: counts ? toNumber(counts.channels) : 0,
      devicesWithBacklog: pending ? toNumber(pending.devices) : 0,
      largestBacklog: largest ? toNumber(largest.n) : 0,
      pendingMessages: pending ? toNumber(pending.n) : 0,
      pendingBytes: pending ? toNumber(pending.bytes) : 0,
      expiredMessages: counts ? toNumber(counts.expired) : 0,
      oldestPendingAt: pending?.oldest == null ? null : toNumber(pending.oldest),
    };
  }

  async countChannelMessages(uaid: string, channelId: string, now: number): Promise<number> {
    const [row] = await this.run<CountRow>('countChannelMessages', [uaid, channelId, now]);
    return row ? toNumber(row.n) : 0;
  }

  async deviceBacklog(uaid: string, now: number): Promise<DeviceBacklog> {
    const [row] = await this.run<CountRow & { bytes: string }>('deviceBacklog', [uaid, now]);
    return { messages: row ? toNumber(row.n) : 0, bytes: row ? toNumber(row.bytes) : 0 };
  }

  async sweepExpiredMessages(now: number): Promise<number> {
    return this.change('sweepExpiredMessages', [now]);
  }

  async sweepIdleDevices(before: number): Promise<number> {
    // The row count is the devices only; their channels and messages cascade.
    return this.change('sweepIdleDevices', [before]);
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
    return rows.map((row) => ({ keyHash: row.key_hash, source: row.source, reason: row.reason, blockedAt: toNumber(row.blocked_at) }));
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
    return this.change('dropDevicesOwnedBy', [owner]);
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
        throw second;
      });
    }
  }
}
