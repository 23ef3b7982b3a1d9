/**
 * The PostgreSQL store's statements: the SQL of each (exported so tests can check their query
 * plans; each is sent as a named prepared statement, parsed once per pooled connection), the rows
 * they return, and the conversions from those rows.
 */
import type { BlockedSenderKey, ChannelRecord, ForwardedHeaders, StoreStats, StoredMessage, Urgency } from '../types.js';

/** Advisory lock key of a device's saves (two int4 keys; the store has the migration lock). */
const DEVICE_SAVE_LOCK = 0x4865_7201;

const MESSAGE_COLUMNS = 'seq, uaid, id, channel_id, topic, urgency, ttl, received_at, expires_at, data, headers';

/**
 * SQL of every statement the store runs; exported so tests can check their query plans.
 * Each is sent as a named prepared statement, parsed once per pooled connection.
 */
export const sql = {
  getDevice: 'SELECT uaid, created_at, last_seen_at FROM devices WHERE uaid = $1',
  upsertDevice: `INSERT INTO devices (uaid, created_at, last_seen_at) VALUES ($1, $2, $2)
                 ON CONFLICT (uaid) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
  touchDevice: 'UPDATE devices SET last_seen_at = $2 WHERE uaid = $1',
  // Channels and messages go with it through ON DELETE CASCADE.
  dropDevice: 'DELETE FROM devices WHERE uaid = $1',

  // An upsert that keeps the row: deleting it would cascade to the channel's pending messages.
  putChannel: `INSERT INTO channels (uaid, channel_id, sender_key_hash, created_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (uaid, channel_id) DO UPDATE
               SET sender_key_hash = excluded.sender_key_hash, created_at = excluded.created_at`,
  getChannel: 'SELECT uaid, channel_id, sender_key_hash, created_at FROM channels WHERE uaid = $1 AND channel_id = $2',
  // Pending messages go with it through ON DELETE CASCADE.
  deleteChannel: 'DELETE FROM channels WHERE uaid = $1 AND channel_id = $2',
  countChannels: 'SELECT count(*) AS n FROM channels WHERE uaid = $1',
  // Uses the partial index channels_sender_key_hash (migration 8); v1 channels (NULL) never match.
  countChannelsBySenderKey: 'SELECT count(*) AS n FROM channels WHERE sender_key_hash = $1',

  // One statement for both cases. A topic message that finds a pending one of the same topic on its
  // channel takes that row over, with every field new and a new seq (excluded.seq is the sequence
  // value drawn for the proposed row), exactly as delete + insert would leave it.
  //
  // The per-device advisory lock, taken before the seq is drawn and held until commit, makes seq
  // order the commit order for each device. Without it two saves on different connections can
  // commit out of seq order, and a drain whose cursor already passed the later seq would skip the
  // earlier one until the device's next hello. SQLite gets this for free from its single writer.
  saveMessage: `WITH device_lock AS (SELECT pg_advisory_xact_lock(${DEVICE_SAVE_LOCK}, hashtext($1)))
                INSERT INTO messages
                  (uaid, id, channel_id, topic, urgency, ttl, received_at, expires_at, data, headers)
                SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::bigint, $8::bigint, $9::bytea, $10::jsonb
                FROM device_lock
                ON CONFLICT (uaid, channel_id, topic) WHERE topic IS NOT NULL DO UPDATE
                SET seq = excluded.seq, id = excluded.id, urgency = excluded.urgency, ttl = excluded.ttl,
                    received_at = excluded.received_at, expires_at = excluded.expires_at,
                    data = excluded.data, headers = excluded.headers`,
  // Group commit (message-batches.ts): the saves of many requests in one statement, one round trip.
  // The advisory locks of every device in the batch are taken first, in uaid order (two batches
  // lock in the same order), then the rows are inserted in batch order, so seq follows it. A row
  // is written only when its channel exists and, when the node checked a cached binding, still has
  // that sender key: a channel re-registered or dropped through another node is refused here
  // (SubscriptionMissingError), so a stale cache can never store a message the database would not.
  // RETURNING names the rows written; a row missing from it had no (matching) channel.
  //
  // The bodies and the key hashes come as two plain bytea parameters, each the concatenation of
  // the rows' values, cut apart here by length ($9: body length, -1 for none; $12: key length, 32
  // or 0 for a v1 binding): pg sends a Buffer parameter as binary, but a bytea[] array as hex text,
  // which doubled the bytes and cost both sides an encode and a parse of every body.
  saveMessages: `WITH rows AS (
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                                        $7::bigint[], $8::bigint[], $9::int[], $10::text[], $11::boolean[], $12::int[])
                     WITH ORDINALITY AS r(uaid, id, channel_id, topic, urgency, ttl, received_at, expires_at, data_length, headers, checked, key_length, ord)
                 ),
                 batch AS (
                   SELECT r.*,
                          sum(greatest(r.data_length, 0)) OVER (ORDER BY r.ord) - greatest(r.data_length, 0) AS data_at,
                          sum(r.key_length) OVER (ORDER BY r.ord) - r.key_length AS key_at
                   FROM rows AS r
                 ),
                 device_lock AS (
                   SELECT count(pg_advisory_xact_lock(${DEVICE_SAVE_LOCK}, hashtext(uaid))) AS n
                   FROM (SELECT DISTINCT uaid FROM batch ORDER BY uaid) AS devices
                 )
                 INSERT INTO messages (uaid, id, channel_id, topic, urgency, ttl, received_at, expires_at, data, headers)
                 SELECT b.uaid, b.id, b.channel_id, b.topic, b.urgency, b.ttl, b.received_at, b.expires_at,
                        CASE WHEN b.data_length < 0 THEN NULL ELSE substring($13::bytea FROM (b.data_at + 1)::int FOR b.data_length) END,
                        b.headers::jsonb
                 FROM batch AS b CROSS JOIN device_lock
                 JOIN channels AS c ON c.uaid = b.uaid AND c.channel_id = b.channel_id
                 WHERE NOT b.checked
                    OR c.sender_key_hash IS NOT DISTINCT FROM
                       (CASE WHEN b.key_length = 0 THEN NULL ELSE substring($14::bytea FROM (b.key_at + 1)::int FOR b.key_length) END)
                 ORDER BY b.ord
                 ON CONFLICT (uaid, channel_id, topic) WHERE topic IS NOT NULL DO UPDATE
                 SET seq = excluded.seq, id = excluded.id, urgency = excluded.urgency, ttl = excluded.ttl,
                     received_at = excluded.received_at, expires_at = excluded.expires_at,
                     data = excluded.data, headers = excluded.headers
                 RETURNING id`,
  // Acks of many sessions in one statement; RETURNING names the rows that were there.
  deleteMessages: `DELETE FROM messages AS m USING unnest($1::text[], $2::text[]) AS d(uaid, id)
                   WHERE m.uaid = d.uaid AND m.id = d.id RETURNING m.uaid, m.id`,
  // The drain: topic messages after the cursor's topicSeq, then messages without a topic after its
  // seq, each group in seq order. Each branch is an ordered seek on its partial index that stops at
  // the limit; the outer sort orders at most 2 × limit rows.
  fetchMessages: `SELECT ${MESSAGE_COLUMNS} FROM (
                    (SELECT ${MESSAGE_COLUMNS}, 0 AS topicless FROM messages
                     WHERE uaid = $1 AND topic IS NOT NULL AND seq > $2 AND expires_at > $4
                     ORDER BY seq LIMIT $5)
                    UNION ALL
                    (SELECT ${MESSAGE_COLUMNS}, 1 AS topicless FROM messages
                     WHERE uaid = $1 AND topic IS NULL AND seq > $3 AND expires_at > $4
                     ORDER BY seq LIMIT $5)
                  ) AS page
                  ORDER BY topicless, seq
                  LIMIT $5`,
  getMessage: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE uaid = $1 AND id = $2 AND expires_at > $3`,
  deleteMessage: 'DELETE FROM messages WHERE uaid = $1 AND id = $2',
  countMessages: 'SELECT count(*) AS n FROM messages WHERE uaid = $1 AND expires_at > $2',
  statsCounts: `SELECT (SELECT count(*) FROM devices) AS devices, (SELECT count(*) FROM channels) AS channels,
                       (SELECT count(*) FROM messages WHERE expires_at <= $1) AS expired`,
  statsPending: `SELECT count(*) AS n, count(DISTINCT uaid) AS devices, min(received_at) AS oldest,
                        coalesce(sum(coalesce(octet_length(data), 0) + coalesce(octet_length(headers::text), 0)), 0) AS bytes
                 FROM messages WHERE expires_at > $1`,
  statsLargest: 'SELECT coalesce(max(n), 0) AS n FROM (SELECT count(*) AS n FROM messages WHERE expires_at > $1 GROUP BY uaid) AS backlogs',
  countChannelMessages: 'SELECT count(*) AS n FROM messages WHERE uaid = $1 AND channel_id = $2 AND expires_at > $3',
  // Bytes are the body and the forwarded headers kept with it (the endpoint counts the same).
  deviceBacklog: `SELECT count(*) AS n, coalesce(sum(coalesce(octet_length(data), 0) + coalesce(octet_length(headers::text), 0)), 0) AS bytes
                  FROM messages WHERE uaid = $1 AND expires_at > $2`,

  // The deleted rows, counted per sender key of their channel (NULL: v1) in the same statement, so
  // the per-app "expired" counts are of exactly the rows this sweep deleted. The outer SELECT sees
  // the channels as they were before the statement (data-modifying CTE), and the sweep deletes no
  // channel. LEFT JOIN: a row is counted in the total even if its channel were gone.
  sweepExpiredMessages: `WITH gone AS (DELETE FROM messages WHERE expires_at <= $1 RETURNING uaid, channel_id)
                         SELECT c.sender_key_hash AS key_hash, count(*) AS n
                         FROM gone LEFT JOIN channels AS c ON c.uaid = gone.uaid AND c.channel_id = gone.channel_id
                         GROUP BY c.sender_key_hash`,
  sweepIdleDevices: 'DELETE FROM devices WHERE last_seen_at < $1',

  blockSenderKey: `INSERT INTO blocked_sender_keys (key_hash, source, reason, blocked_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (key_hash) DO NOTHING`,
  unblockSenderKey: 'DELETE FROM blocked_sender_keys WHERE key_hash = $1',
  isSenderKeyBlocked: 'SELECT 1 AS n FROM blocked_sender_keys WHERE key_hash = $1',
  listBlockedSenderKeys: 'SELECT key_hash, source, reason, blocked_at FROM blocked_sender_keys ORDER BY blocked_at, key_hash',
  // Newest first, a seek on blocked_sender_keys_page (migration 9) from the last key shown.
  listBlockedSenderKeysPage: `SELECT key_hash, source, reason, blocked_at FROM blocked_sender_keys
                              WHERE (blocked_at, key_hash) < ($1, $2) ORDER BY blocked_at DESC, key_hash DESC LIMIT $3`,
  countBlockedSenderKeys: 'SELECT count(*) AS n FROM blocked_sender_keys',
  // Written only for a device that exists (a device that never registered leaves nothing behind).
  setWakeupAddress: `INSERT INTO wakeup_addresses (uaid, host, port, key_id, updated_at)
                     SELECT $1::text, $2::text, $3::integer, $4::integer, $5::bigint
                     WHERE EXISTS (SELECT 1 FROM devices WHERE uaid = $1)
                     ON CONFLICT (uaid) DO UPDATE SET host = excluded.host, port = excluded.port,
                       key_id = excluded.key_id, updated_at = excluded.updated_at`,
  getWakeupAddress: 'SELECT host, port, key_id, updated_at FROM wakeup_addresses WHERE uaid = $1',
  deleteWakeupAddress: 'DELETE FROM wakeup_addresses WHERE uaid = $1',

  bindDeviceOwner: `INSERT INTO device_owners (uaid, owner, bound_at)
                    SELECT $1::text, $2::text, $3::bigint WHERE EXISTS (SELECT 1 FROM devices WHERE uaid = $1)
                    ON CONFLICT (uaid) DO NOTHING`,
  getDeviceOwner: 'SELECT owner FROM device_owners WHERE uaid = $1',
  dropDevicesOwnedBy: 'DELETE FROM devices WHERE uaid IN (SELECT uaid FROM device_owners WHERE owner = $1)',
} as const;

export type StatementName = keyof typeof sql;

export interface DeviceRow {
  uaid: string;
  created_at: string;
  last_seen_at: string;
}

export interface ChannelRow {
  uaid: string;
  channel_id: string;
  sender_key_hash: Buffer | null;
  created_at: string;
}

export interface MessageRow {
  seq: string;
  uaid: string;
  id: string;
  channel_id: string;
  topic: string | null;
  urgency: Urgency;
  ttl: string;
  received_at: string;
  expires_at: string;
  data: Buffer | null;
  /** JSONB, parsed by pg. */
  headers: ForwardedHeaders | null;
}

export interface WakeupRow {
  host: string;
  port: number;
  key_id: number;
  updated_at: string;
}

export interface CountRow {
  n: string;
}

export interface BlockedRow {
  key_hash: Buffer;
  source: BlockedSenderKey['source'];
  reason: string;
  blocked_at: string;
}

/**
 * BIGINT columns and count(*) arrive as strings (pg does not assume they fit a double). Herald's
 * values (times in ms, seq, counts) stay far below 2^53; a value beyond it means a corrupt row.
 */
export function toNumber(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`PostgresStore: integer ${value} is out of the safe range`);
  return n;
}

export function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    seq: toNumber(row.seq),
    id: row.id,
    uaid: row.uaid,
    channelId: row.channel_id,
    topic: row.topic,
    urgency: row.urgency,
    ttl: toNumber(row.ttl),
    receivedAt: toNumber(row.received_at),
    expiresAt: toNumber(row.expires_at),
    data: row.data,
    headers: row.headers,
  };
}

/** Frozen: the channel cache hands the same object to every caller. */
export function toBlockedSenderKey(row: BlockedRow): BlockedSenderKey {
  return { keyHash: row.key_hash, source: row.source, reason: row.reason, blockedAt: toNumber(row.blocked_at) };
}

export function toChannelRecord(row: ChannelRow): ChannelRecord {
  return Object.freeze({ uaid: row.uaid, channelId: row.channel_id, senderKeyHash: row.sender_key_hash, createdAt: toNumber(row.created_at) });
}

export interface StatsCountsRow {
  devices: string;
  channels: string;
  expired: string;
}

export interface StatsPendingRow {
  n: string;
  devices: string;
  oldest: string | null;
  bytes: string;
}

export function toStoreStats(counts: StatsCountsRow | undefined, pending: StatsPendingRow | undefined, largest: CountRow | undefined): StoreStats {
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
