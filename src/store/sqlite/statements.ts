/**
 * The SQLite store's statements: the SQL of each (exported so tests can check their query plans),
 * the rows they return, and the prepared set the store runs.
 */
import type Database from 'better-sqlite3';
import type { ExpiredGroupRow } from '../expiry-sweep.js';
import type { BlockedSenderKey, ForwardedHeaders, NewMessage, StoredMessage, Urgency, WakeupAddress } from '../types.js';

/** SQL of every statement the store runs; exported so tests can check their query plans. */
export const sql = {
  getDevice: 'SELECT uaid, created_at, last_seen_at FROM devices WHERE uaid = ?',
  upsertDevice: `INSERT INTO devices (uaid, created_at, last_seen_at) VALUES (@uaid, @now, @now)
                 ON CONFLICT (uaid) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
  touchDevice: 'UPDATE devices SET last_seen_at = ? WHERE uaid = ?',
  // Channels and messages go with it through ON DELETE CASCADE.
  dropDevice: 'DELETE FROM devices WHERE uaid = ?',

  // An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, which would cascade to the
  // channel's pending messages.
  putChannel: `INSERT INTO channels (uaid, channel_id, sender_key_hash, created_at)
               VALUES (@uaid, @channelId, @senderKeyHash, @createdAt)
               ON CONFLICT (uaid, channel_id) DO UPDATE
               SET sender_key_hash = excluded.sender_key_hash, created_at = excluded.created_at`,
  getChannel: `SELECT uaid, channel_id, sender_key_hash, created_at FROM channels
               WHERE uaid = ? AND channel_id = ?`,
  // Pending messages go with it through ON DELETE CASCADE.
  deleteChannel: 'DELETE FROM channels WHERE uaid = ? AND channel_id = ?',
  countChannels: 'SELECT count(*) AS n FROM channels WHERE uaid = ?',
  // Uses the partial index channels_sender_key_hash (migration 8); v1 channels (NULL) never match.
  countChannelsBySenderKey: 'SELECT count(*) AS n FROM channels WHERE sender_key_hash = ?',

  deleteTopic: 'DELETE FROM messages WHERE uaid = ? AND channel_id = ? AND topic = ?',
  insertMessage: `INSERT INTO messages
                  (uaid, id, channel_id, topic, urgency, ttl, received_at, expires_at, data, headers)
                  VALUES (@uaid, @id, @channelId, @topic, @urgency, @ttl, @receivedAt, @expiresAt, @data, @headers)`,
  // One group of the drain order: topic messages (topicless = 0) or the others (1), by seq.
  // See fetchMessages for why this is not a single row-value comparison.
  fetchMessageGroup: `SELECT ${messageColumns()} FROM messages
                      WHERE uaid = @uaid AND (topic IS NULL) = @topicless AND seq > @seq AND expires_at > @now
                      ORDER BY seq
                      LIMIT @limit`,
  getMessage: `SELECT ${messageColumns()} FROM messages WHERE uaid = ? AND id = ? AND expires_at > ?`,
  deleteMessage: 'DELETE FROM messages WHERE uaid = ? AND id = ?',
  countMessages: 'SELECT count(*) AS n FROM messages WHERE uaid = ? AND expires_at > ?',
  statsCounts: `SELECT (SELECT count(*) FROM devices) AS devices, (SELECT count(*) FROM channels) AS channels,
                       (SELECT count(*) FROM messages WHERE expires_at <= @now) AS expired`,
  statsPending: `SELECT count(*) AS n, count(DISTINCT uaid) AS devices, min(received_at) AS oldest,
                        coalesce(sum(coalesce(length(data), 0) + coalesce(length(headers), 0)), 0) AS bytes
                 FROM messages WHERE expires_at > @now`,
  statsLargest: 'SELECT coalesce(max(n), 0) AS n FROM (SELECT count(*) AS n FROM messages WHERE expires_at > @now GROUP BY uaid)',
  countChannelMessages: 'SELECT count(*) AS n FROM messages WHERE uaid = ? AND channel_id = ? AND expires_at > ?',
  // Bytes are the body and the forwarded headers kept with it (the endpoint counts the same).
  deviceBacklog: `SELECT count(*) AS n, coalesce(sum(coalesce(length(data), 0) + coalesce(length(headers), 0)), 0) AS bytes
                  FROM messages WHERE uaid = ? AND expires_at > ?`,

  // The sweep's per-app counts: the rows the delete below takes, grouped by their channel's sender
  // key (NULL: v1). Both run in one transaction (sqlite-store.ts), so they see the same rows.
  expiredBySenderKey: `SELECT c.sender_key_hash AS key_hash, count(*) AS n
                       FROM messages AS m LEFT JOIN channels AS c ON c.uaid = m.uaid AND c.channel_id = m.channel_id
                       WHERE m.expires_at <= ?
                       GROUP BY c.sender_key_hash`,
  sweepExpiredMessages: 'DELETE FROM messages WHERE expires_at <= ?',
  sweepIdleDevices: 'DELETE FROM devices WHERE last_seen_at < ?',

  blockSenderKey: `INSERT INTO blocked_sender_keys (key_hash, source, reason, blocked_at)
                   VALUES (@keyHash, @source, @reason, @blockedAt) ON CONFLICT (key_hash) DO NOTHING`,
  unblockSenderKey: 'DELETE FROM blocked_sender_keys WHERE key_hash = ?',
  isSenderKeyBlocked: 'SELECT 1 AS n FROM blocked_sender_keys WHERE key_hash = ?',
  listBlockedSenderKeys: 'SELECT key_hash, source, reason, blocked_at FROM blocked_sender_keys ORDER BY blocked_at, key_hash',
  // Newest first, a seek on blocked_sender_keys_page (migration 9) from the last key shown.
  listBlockedSenderKeysPage: `SELECT key_hash, source, reason, blocked_at FROM blocked_sender_keys
                              WHERE (blocked_at, key_hash) < (?, ?) ORDER BY blocked_at DESC, key_hash DESC LIMIT ?`,
  countBlockedSenderKeys: 'SELECT count(*) AS n FROM blocked_sender_keys',
  // Written only for a device that exists (a device that never registered leaves nothing behind).
  setWakeupAddress: `INSERT INTO wakeup_addresses (uaid, host, port, key_id, updated_at)
                     SELECT @uaid, @host, @port, @keyId, @updatedAt WHERE EXISTS (SELECT 1 FROM devices WHERE uaid = @uaid)
                     ON CONFLICT (uaid) DO UPDATE SET host = excluded.host, port = excluded.port,
                       key_id = excluded.key_id, updated_at = excluded.updated_at`,
  getWakeupAddress: 'SELECT host, port, key_id, updated_at FROM wakeup_addresses WHERE uaid = ?',
  deleteWakeupAddress: 'DELETE FROM wakeup_addresses WHERE uaid = ?',

  bindDeviceOwner: `INSERT INTO device_owners (uaid, owner, bound_at)
                    SELECT @uaid, @owner, @now WHERE EXISTS (SELECT 1 FROM devices WHERE uaid = @uaid)
                    ON CONFLICT (uaid) DO NOTHING`,
  getDeviceOwner: 'SELECT owner FROM device_owners WHERE uaid = ?',
  // Channels, messages and the wake-up address go with each device through the cascades.
  dropDevicesOwnedBy: 'DELETE FROM devices WHERE uaid IN (SELECT uaid FROM device_owners WHERE owner = ?)',
} as const;

function messageColumns(): string {
  return 'seq, uaid, id, channel_id, topic, urgency, ttl, received_at, expires_at, data, headers';
}

export interface DeviceRow {
  uaid: string;
  created_at: number;
  last_seen_at: number;
}

export interface ChannelRow {
  uaid: string;
  channel_id: string;
  sender_key_hash: Buffer | null;
  created_at: number;
}

export interface MessageRow {
  seq: number;
  uaid: string;
  id: string;
  channel_id: string;
  topic: string | null;
  urgency: Urgency;
  ttl: number;
  received_at: number;
  expires_at: number;
  data: Buffer | null;
  headers: string | null;
}

export interface WakeupRow {
  host: string;
  port: number;
  key_id: number;
  updated_at: number;
}

export interface CountRow {
  n: number;
}

export interface BlockedRow {
  key_hash: Buffer;
  source: BlockedSenderKey['source'];
  reason: string;
  blocked_at: number;
}

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
  return {
    getDevice: db.prepare<[string], DeviceRow>(sql.getDevice),
    upsertDevice: db.prepare<[{ uaid: string; now: number }]>(sql.upsertDevice),
    touchDevice: db.prepare<[number, string]>(sql.touchDevice),
    dropDevice: db.prepare<[string]>(sql.dropDevice),
    putChannel: db.prepare<[{ uaid: string; channelId: string; senderKeyHash: Buffer | null; createdAt: number }]>(
      sql.putChannel,
    ),
    getChannel: db.prepare<[string, string], ChannelRow>(sql.getChannel),
    deleteChannel: db.prepare<[string, string]>(sql.deleteChannel),
    countChannels: db.prepare<[string], CountRow>(sql.countChannels),
    countChannelsBySenderKey: db.prepare<[Buffer], CountRow>(sql.countChannelsBySenderKey),
    deleteTopic: db.prepare<[string, string, string]>(sql.deleteTopic),
    insertMessage: db.prepare<[Omit<NewMessage, 'headers'> & { headers: string | null }]>(sql.insertMessage),
    fetchMessageGroup: db.prepare<
      [{ uaid: string; topicless: 0 | 1; seq: number; now: number; limit: number }],
      MessageRow
    >(sql.fetchMessageGroup),
    getMessage: db.prepare<[string, string, number], MessageRow>(sql.getMessage),
    deleteMessage: db.prepare<[string, string]>(sql.deleteMessage),
    countMessages: db.prepare<[string, number], CountRow>(sql.countMessages),
    countChannelMessages: db.prepare<[string, string, number], CountRow>(sql.countChannelMessages),
    deviceBacklog: db.prepare<[string, number], CountRow & { bytes: number }>(sql.deviceBacklog),
    expiredBySenderKey: db.prepare<[number], ExpiredGroupRow>(sql.expiredBySenderKey),
    sweepExpiredMessages: db.prepare<[number]>(sql.sweepExpiredMessages),
    sweepIdleDevices: db.prepare<[number]>(sql.sweepIdleDevices),
    blockSenderKey: db.prepare<[BlockedSenderKey]>(sql.blockSenderKey),
    unblockSenderKey: db.prepare<[Buffer]>(sql.unblockSenderKey),
    isSenderKeyBlocked: db.prepare<[Buffer], CountRow>(sql.isSenderKeyBlocked),
    listBlockedSenderKeys: db.prepare<[], BlockedRow>(sql.listBlockedSenderKeys),
    listBlockedSenderKeysPage: db.prepare<[number, Buffer, number], BlockedRow>(sql.listBlockedSenderKeysPage),
    countBlockedSenderKeys: db.prepare<[], CountRow>(sql.countBlockedSenderKeys),
    setWakeupAddress: db.prepare<[{ uaid: string } & WakeupAddress]>(sql.setWakeupAddress),
    getWakeupAddress: db.prepare<[string], WakeupRow>(sql.getWakeupAddress),
    deleteWakeupAddress: db.prepare<[string]>(sql.deleteWakeupAddress),
    bindDeviceOwner: db.prepare<[{ uaid: string; owner: string; now: number }]>(sql.bindDeviceOwner),
    getDeviceOwner: db.prepare<[string], { owner: string }>(sql.getDeviceOwner),
    dropDevicesOwnedBy: db.prepare<[string]>(sql.dropDevicesOwnedBy),
  };
}

export function toBlockedSenderKey(row: BlockedRow): BlockedSenderKey {
  return { keyHash: row.key_hash, source: row.source, reason: row.reason, blockedAt: row.blocked_at };
}

export function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    seq: row.seq,
    id: row.id,
    uaid: row.uaid,
    channelId: row.channel_id,
    topic: row.topic,
    urgency: row.urgency,
    ttl: row.ttl,
    receivedAt: row.received_at,
    expiresAt: row.expires_at,
    data: row.data,
    headers: row.headers === null ? null : (JSON.parse(row.headers) as ForwardedHeaders),
  };
}
