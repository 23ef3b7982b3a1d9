import Database from 'better-sqlite3';
import type {
  BlockedSenderKey,
  ChannelRecord,
  DeviceBacklog,
  DeviceCertificateRecord,
  DeviceCertificateStore,
  EnrollmentCode,
  ExpirySweep,
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
import { SubscriptionMissingError, type BlockedKeyCursor } from '../types.js';
import { AFTER_ALL_BLOCKED, rowsToRead, type KeysetQuery } from '../keyset.js';
import { SqliteDeviceCertificates } from './device-certificates.js';
import { SqliteAppStats } from './app-stats.js';
import { ChannelCache } from '../channel-cache.js';
import { expirySweepOf } from '../expiry-sweep.js';
import { WalCheckpointer } from './checkpointer.js';
import { GroupCommit } from './group-commit.js';
import { runSqliteMigrations } from '../migrations/sqlite-runner.js';
import { migrations } from './migrations.js';
import { preparePrivateDatabaseFile } from './private-file.js';
import { listSecretFingerprints, recordSecretFingerprints } from './secret-fingerprints.js';
import { prepareStatements, sql, toBlockedSenderKey, toStoredMessage, type CountRow, type MessageRow, type Statements } from './statements.js';

export { sql } from './statements.js';

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' for a private in-memory database. */
  path: string;
  /** Devices whose channels are kept in memory for the endpoint's check (0: none). See channel-cache.ts. */
  channelCacheDevices?: number;
}

const DEFAULT_CHANNEL_CACHE_DEVICES = 100_000;

/**
 * The embedded backend. better-sqlite3 is synchronous: each method does its work at once and
 * returns a settled promise, so calls never interleave and a transaction never spans an await.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private statements: Statements | null = null;
  /** Every write shares commits with the others of its event-loop turn; see group-commit.ts. */
  private readonly groupCommit: GroupCommit;
  private readonly channels: ChannelCache;
  private readonly checkpointer: WalCheckpointer | undefined;
  private readonly certificates: SqliteDeviceCertificates;
  readonly appStats: SqliteAppStats;

  constructor(options: SqliteStoreOptions) {
    preparePrivateDatabaseFile(options.path);
    this.db = new Database(options.path);
    // WAL: readers never block the writer, and a commit is one append to the log.
    this.db.pragma('journal_mode = WAL');
    // In WAL mode, NORMAL syncs the log to disk at checkpoints rather than at every commit. A commit
    // has still been written to the WAL file (in the OS page cache) before the call returns, so a
    // crash or kill of the Herald process keeps every committed message: the OS writes the file out
    // and the next open replays the log. Only a power loss or OS crash can drop the last few
    // commits, and even then the database stays consistent.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    // An acked message is deleted, and its ciphertext must not stay readable in free space of the
    // database file (docs/privacy.md): deleted content and freed pages are overwritten with zeros.
    this.db.pragma('secure_delete = ON');
    // Another process (the CLI's admin commands) may hold the write lock for a moment.
    this.db.pragma('busy_timeout = 5000');
    this.groupCommit = new GroupCommit(this.db);
    this.certificates = new SqliteDeviceCertificates(this.db);
    this.appStats = new SqliteAppStats(this.db, (job) => this.groupCommit.write(job));
    this.channels = new ChannelCache(options.channelCacheDevices ?? DEFAULT_CHANNEL_CACHE_DEVICES);
    if (options.path !== ':memory:') {
      // Checkpoints (which fsync) run on a worker thread, never inside a commit on the event loop.
      this.db.pragma('wal_autocheckpoint = 0');
      // When a commit starts the WAL over (after the checkpointer caught up), the file is cut back to this.
      this.db.pragma('journal_size_limit = 67108864');
      this.checkpointer = new WalCheckpointer(options.path, () => setImmediate(() => this.restartWal()));
    }
  }

  /**
   * The checkpointer caught up with a WAL past its bound: RESTART it on this connection, between
   * two group commits, so the next commit writes from the start of the file (and journal_size_limit
   * trims it). It copies what little is left and returns; busy_timeout 0, so if the checkpointer's
   * own connection is reading at that instant it is skipped, not waited for (the next round asks again).
   */
  private restartWal(): void {
    if (this.db.inTransaction || !this.db.open) return;
    this.db.pragma('busy_timeout = 0');
    try {
      this.db.pragma('wal_checkpoint(RESTART)');
    } catch {
      // Busy or failed: nothing is lost; the WAL grows a little longer until the next round.
    } finally {
      this.db.pragma('busy_timeout = 5000');
    }
  }

  /** The shared runner (store/migrations/sqlite-runner.ts): each migration in its own immediate transaction. */
  async migrate(): Promise<void> {
    runSqliteMigrations(this.db, migrations, { table: 'schema_migrations', setting: 'store.url' });
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.groupCommit.flush();
    await this.checkpointer?.stop();
    this.db.close();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async getDevice(uaid: string): Promise<DeviceRecord | null> {
    const row = this.prepared().getDevice.get(uaid);
    return row ? { uaid: row.uaid, createdAt: row.created_at, lastSeenAt: row.last_seen_at } : null;
  }

  // Writes go through the group commit: a reconnect storm (hello → touch, register → upsert + put)
  // shares commits instead of paying one each. Cache entries are dropped inside the write itself,
  // so no read between queueing and committing can leave a stale entry behind.

  async upsertDevice(uaid: string, now: number): Promise<void> {
    const s = this.prepared();
    await this.groupCommit.write(() => s.upsertDevice.run({ uaid, now }));
  }

  async touchDevice(uaid: string, now: number): Promise<boolean> {
    const s = this.prepared();
    return this.groupCommit.write(() => s.touchDevice.run(now, uaid).changes > 0);
  }

  async dropDevice(uaid: string): Promise<boolean> {
    const s = this.prepared();
    return this.groupCommit.write(() => {
      this.channels.forgetDevice(uaid);
      return s.dropDevice.run(uaid).changes > 0;
    });
  }

  async putChannel(channel: ChannelRecord): Promise<void> {
    const s = this.prepared();
    const row = {
      uaid: channel.uaid,
      channelId: channel.channelId,
      senderKeyHash: channel.senderKeyHash,
      createdAt: channel.createdAt,
    };
    await this.groupCommit.write(() => {
      this.channels.forgetChannel(row.uaid, row.channelId);
      s.putChannel.run(row);
    });
  }

  async getChannel(uaid: string, channelId: string): Promise<ChannelRecord | null> {
    const cached = this.channels.get(uaid, channelId);
    if (cached) return cached;
    const row = this.prepared().getChannel.get(uaid, channelId);
    if (!row) return null;
    const channel: ChannelRecord = Object.freeze({
      uaid: row.uaid,
      channelId: row.channel_id,
      senderKeyHash: row.sender_key_hash,
      createdAt: row.created_at,
    });
    this.channels.set(channel);
    return channel;
  }

  async deleteChannel(uaid: string, channelId: string): Promise<boolean> {
    const s = this.prepared();
    return this.groupCommit.write(() => {
      this.channels.forgetChannel(uaid, channelId);
      return s.deleteChannel.run(uaid, channelId).changes > 0;
    });
  }

  async countChannels(uaid: string): Promise<number> {
    return this.prepared().countChannels.get(uaid)?.n ?? 0;
  }

  async countChannelsBySenderKey(keyHash: Buffer): Promise<number> {
    return this.prepared().countChannelsBySenderKey.get(keyHash)?.n ?? 0;
  }

  async saveMessage(message: NewMessage): Promise<void> {
    const s = this.prepared();
    const row = { ...message, headers: message.headers === null ? null : JSON.stringify(message.headers) };
    try {
      // No transaction of its own: the group's (or, on a replay, the job's savepoint) makes the
      // topic replacement and the insert one atomic step.
      await this.groupCommit.write(() => {
        if (row.topic !== null) s.deleteTopic.run(row.uaid, row.channelId, row.topic);
        s.insertMessage.run(row);
      });
    } catch (error) {
      // The channel was unregistered between the endpoint's check and this save.
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new SubscriptionMissingError();
      throw error;
    }
  }

  async fetchMessages(uaid: string, options: FetchOptions): Promise<StoredMessage[]> {
    // Two index seeks, one per group (topic messages first), each resumed at its own cursor
    // position. Both reads run back to back with nothing in between.
    const limit = Math.max(0, Math.floor(options.limit));
    const after = options.after ?? { topicSeq: 0, seq: 0 };
    const group = this.prepared().fetchMessageGroup;
    const rows: MessageRow[] = group.all({ uaid, topicless: 0, seq: after.topicSeq, now: options.now, limit });
    if (rows.length < limit) {
      rows.push(...group.all({ uaid, topicless: 1, seq: after.seq, now: options.now, limit: limit - rows.length }));
    }
    return rows.map(toStoredMessage);
  }

  async getMessage(uaid: string, id: string, now: number): Promise<StoredMessage | null> {
    const row = this.prepared().getMessage.get(uaid, id, now);
    return row ? toStoredMessage(row) : null;
  }

  async deleteMessage(uaid: string, id: string): Promise<boolean> {
    const s = this.prepared();
    return this.groupCommit.write(() => s.deleteMessage.run(uaid, id).changes > 0);
  }

  async countMessages(uaid: string, now: number): Promise<number> {
    return this.prepared().countMessages.get(uaid, now)?.n ?? 0;
  }

  async stats(now: number): Promise<StoreStats> {
    const db = this.db;
    const counts = db.prepare<[{ now: number }], { devices: number; channels: number; expired: number }>(sql.statsCounts).get({ now });
    const pending = db.prepare<[{ now: number }], { n: number; devices: number; oldest: number | null; bytes: number }>(sql.statsPending).get({ now });
    const largest = db.prepare<[{ now: number }], CountRow>(sql.statsLargest).get({ now });
    return {
      devices: counts?.devices ?? 0,
      channels: counts?.channels ?? 0,
      devicesWithBacklog: pending?.devices ?? 0,
      largestBacklog: largest?.n ?? 0,
      pendingMessages: pending?.n ?? 0,
      pendingBytes: pending?.bytes ?? 0,
      expiredMessages: counts?.expired ?? 0,
      oldestPendingAt: pending?.oldest ?? null,
    };
  }

  async countChannelMessages(uaid: string, channelId: string, now: number): Promise<number> {
    return this.prepared().countChannelMessages.get(uaid, channelId, now)?.n ?? 0;
  }

  async deviceBacklog(uaid: string, now: number): Promise<DeviceBacklog> {
    const row = this.prepared().deviceBacklog.get(uaid, now);
    return { messages: row?.n ?? 0, bytes: row?.bytes ?? 0 };
  }

  async sweepExpiredMessages(now: number): Promise<ExpirySweep> {
    const s = this.prepared();
    // One job of the group commit, i.e. inside its transaction: the counts are of exactly the rows
    // deleted, even with another process (the CLI) writing. A replayed job reruns both statements.
    return this.groupCommit.write(() => {
      const swept = expirySweepOf(s.expiredBySenderKey.all(now));
      swept.deleted = s.sweepExpiredMessages.run(now).changes;
      return swept;
    });
  }

  async sweepIdleDevices(before: number): Promise<number> {
    // `changes` counts the devices only; their channels and messages cascade.
    const swept = this.prepared().sweepIdleDevices.run(before).changes;
    // Which devices went is not known here; the sweep is rare, so the cache starts over.
    if (swept > 0) this.channels.clear();
    return swept;
  }

  async blockSenderKey(entry: BlockedSenderKey): Promise<boolean> {
    return this.prepared().blockSenderKey.run(entry).changes > 0;
  }

  async unblockSenderKey(keyHash: Buffer): Promise<boolean> {
    return this.prepared().unblockSenderKey.run(keyHash).changes > 0;
  }

  async isSenderKeyBlocked(keyHash: Buffer): Promise<boolean> {
    return this.prepared().isSenderKeyBlocked.get(keyHash) !== undefined;
  }

  async listBlockedSenderKeys(): Promise<BlockedSenderKey[]> {
    return this.prepared()
      .listBlockedSenderKeys.all()
      .map(toBlockedSenderKey);
  }

  async listBlockedSenderKeysPage(query: KeysetQuery<BlockedKeyCursor>): Promise<BlockedSenderKey[]> {
    const after = query.after ?? AFTER_ALL_BLOCKED;
    return this.prepared()
      .listBlockedSenderKeysPage.all(after.at, after.keyHash, rowsToRead(query))
      .map(toBlockedSenderKey);
  }

  async countBlockedSenderKeys(): Promise<number> {
    return this.prepared().countBlockedSenderKeys.get()?.n ?? 0;
  }

  async setWakeupAddress(uaid: string, address: WakeupAddress): Promise<boolean> {
    const { host, port, keyId, updatedAt } = address;
    return this.prepared().setWakeupAddress.run({ uaid, host, port, keyId, updatedAt }).changes > 0;
  }

  async getWakeupAddress(uaid: string): Promise<WakeupAddress | null> {
    const row = this.prepared().getWakeupAddress.get(uaid);
    return row ? { host: row.host, port: row.port, keyId: row.key_id, updatedAt: row.updated_at } : null;
  }

  async deleteWakeupAddress(uaid: string): Promise<boolean> {
    return this.prepared().deleteWakeupAddress.run(uaid).changes > 0;
  }

  async bindDeviceOwner(uaid: string, owner: string, now: number): Promise<boolean> {
    const statements = this.prepared();
    statements.bindDeviceOwner.run({ uaid, owner, now });
    return statements.getDeviceOwner.get(uaid)?.owner === owner;
  }

  async getDeviceOwner(uaid: string): Promise<string | null> {
    return this.prepared().getDeviceOwner.get(uaid)?.owner ?? null;
  }

  async dropDevicesOwnedBy(owner: string): Promise<number> {
    const s = this.prepared();
    return this.groupCommit.write(() => {
      const dropped = s.dropDevicesOwnedBy.run(owner).changes;
      // Which devices went is not known here; a retired user is rare, so the cache starts over.
      if (dropped > 0) this.channels.clear();
      return dropped;
    });
  }

  async listSecretFingerprints(): Promise<RecordedSecretFingerprint[]> {
    return listSecretFingerprints(this.db);
  }

  async recordSecretFingerprints(keys: readonly SecretFingerprint[], sealing: readonly SecretFingerprint[], now: number): Promise<void> {
    recordSecretFingerprints(this.db, keys, sealing, now);
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

  /** Statements are prepared once, on first use (the tables must exist by then: migrate() first). */
  private prepared(): Statements {
    if (this.statements) return this.statements;
    try {
      this.statements = prepareStatements(this.db);
    } catch (error) {
      if (!this.db.open) throw error;
      throw new Error('SqliteStore: the schema is missing or out of date; run migrate() before use', { cause: error });
    }
    return this.statements;
  }
}
