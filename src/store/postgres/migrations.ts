/**
 * The PostgreSQL schema as numbered migrations, numbered like the SQLite list
 * (src/store/sqlite/migrations.ts): "version 3" means the same logical schema on both backends.
 * Each runs once, in its own transaction, under the migration advisory lock, and is recorded in
 * `schema_migrations` (store/migrations/postgres-runner.ts). Never edit a migration that has
 * shipped: add the next number instead.
 */

import type { Migration } from '../migrations/migration-list.js';

export type { Migration } from '../migrations/migration-list.js';

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, channels, messages',
    // Times and seq are BIGINT (milliseconds since the epoch do not fit INTEGER); they are read back
    // as strings by `pg` and converted to numbers where rows are mapped, since they stay far below 2^53.
    sql: `
      CREATE TABLE devices (
        uaid         TEXT   NOT NULL PRIMARY KEY,
        created_at   BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL
      );
      CREATE INDEX devices_last_seen_at ON devices (last_seen_at);

      CREATE TABLE channels (
        uaid            TEXT   NOT NULL REFERENCES devices (uaid) ON DELETE CASCADE,
        channel_id      TEXT   NOT NULL,
        sender_key_hash BYTEA,
        created_at      BIGINT NOT NULL,
        PRIMARY KEY (uaid, channel_id)
      );

      -- A sequence never hands out a value twice, even after the newest row is deleted: a draining
      -- session whose cursor sits on an acked seq cannot skip a message that reused it. seq is not
      -- indexed on its own on purpose: a drain (uaid = ? AND seq > ? ORDER BY seq LIMIT ?) could
      -- then be planned as a walk of all messages in seq order, which the planner prices as cheap
      -- for a device with a big backlog and which reads every other device's messages.
      CREATE TABLE messages (
        seq         BIGSERIAL NOT NULL,
        uaid        TEXT      NOT NULL,
        id          TEXT      NOT NULL,
        channel_id  TEXT      NOT NULL,
        topic       TEXT,
        urgency     TEXT      NOT NULL CHECK (urgency IN ('very-low', 'low', 'normal', 'high')),
        ttl         BIGINT    NOT NULL,
        received_at BIGINT    NOT NULL,
        expires_at  BIGINT    NOT NULL,
        data        BYTEA,
        headers     JSONB,
        -- ack / sender delete / GET by (uaid, id); also makes a message id unique per device.
        CONSTRAINT messages_uaid_id PRIMARY KEY (uaid, id),
        FOREIGN KEY (uaid, channel_id) REFERENCES channels (uaid, channel_id) ON DELETE CASCADE
      );
      -- the drain: per device, topic messages first, then the others, each group by seq from its
      -- own cursor position. One partial index per group: each is an exact seek on (uaid, seq > x).
      CREATE INDEX messages_drain_topic ON messages (uaid, seq) WHERE topic IS NOT NULL;
      CREATE INDEX messages_drain_plain ON messages (uaid, seq) WHERE topic IS NULL;
      -- At most one pending message per topic and channel (NULL topics are distinct, so messages
      -- without a topic are unconstrained). saveMessage replaces through ON CONFLICT on it, which
      -- stays right when two saves of one topic race. Also the child side of the channel foreign key
      -- (cascade on unregister).
      CREATE UNIQUE INDEX messages_channel_topic ON messages (uaid, channel_id, topic);
      CREATE INDEX messages_expires_at ON messages (expires_at);
    `,
  },
  {
    version: 2,
    name: 'blocked sender keys',
    // See the SQLite migration 2: only the SHA-256 of a revoked or blocked key is kept.
    sql: `
      CREATE TABLE blocked_sender_keys (
        key_hash   BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(key_hash) = 32),
        source     TEXT   NOT NULL CHECK (source IN ('holder', 'operator')),
        reason     TEXT   NOT NULL,
        blocked_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'wake-up addresses',
    // One row per device that declared a UDP wake-up address (docs/wakeup.md); it goes with the
    // device (reset, idle sweep) through the cascade.
    sql: `
      CREATE TABLE wakeup_addresses (
        uaid       TEXT    NOT NULL PRIMARY KEY REFERENCES devices (uaid) ON DELETE CASCADE,
        host       TEXT    NOT NULL,
        port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        key_id     INTEGER NOT NULL CHECK (key_id BETWEEN 0 AND 255),
        updated_at BIGINT  NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'device owners',
    // See the SQLite migration 4.
    sql: `
      CREATE TABLE device_owners (
        uaid     TEXT   NOT NULL PRIMARY KEY REFERENCES devices (uaid) ON DELETE CASCADE,
        owner    TEXT   NOT NULL,
        bound_at BIGINT NOT NULL
      );
      CREATE INDEX device_owners_owner ON device_owners (owner);
    `,
  },
  {
    version: 5,
    name: 'secret fingerprints',
    // See the SQLite migration 5.
    sql: `
      CREATE TABLE secret_fingerprints (
        purpose       TEXT    NOT NULL,
        key_id        INTEGER NOT NULL CHECK (key_id BETWEEN 0 AND 255),
        fingerprint   BYTEA   NOT NULL CHECK (octet_length(fingerprint) = 32),
        recorded_at   BIGINT  NOT NULL,
        sealing_since BIGINT,
        PRIMARY KEY (purpose, key_id)
      );
    `,
  },
  {
    version: 6,
    name: 'device certificates and enrollment codes',
    // See the SQLite migration 5.
    sql: `
      CREATE TABLE device_certificates (
        serial            TEXT   NOT NULL PRIMARY KEY,
        device_id         TEXT   NOT NULL,
        app               TEXT,
        issued_at         BIGINT NOT NULL,
        expires_at        BIGINT NOT NULL,
        revoked_at        BIGINT,
        revocation_reason TEXT
      );
      CREATE INDEX device_certificates_device ON device_certificates (device_id);

      CREATE TABLE enrollment_codes (
        code_hash  BYTEA  NOT NULL PRIMARY KEY CHECK (length(code_hash) = 32),
        app        TEXT   NOT NULL,
        device_id  TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'app stats',
    // See the SQLite migration 7.
    sql: `
      CREATE TABLE app_stats_hourly (
        key_hash  BYTEA NOT NULL CHECK (length(key_hash) = 32),
        hour      BIGINT NOT NULL,
        accepted  BIGINT NOT NULL DEFAULT 0,
        delivered BIGINT NOT NULL DEFAULT 0,
        stored    BIGINT NOT NULL DEFAULT 0,
        expired   BIGINT NOT NULL DEFAULT 0,
        refused   BIGINT NOT NULL DEFAULT 0,
        l0        BIGINT NOT NULL DEFAULT 0,
        l1        BIGINT NOT NULL DEFAULT 0,
        l2        BIGINT NOT NULL DEFAULT 0,
        l3        BIGINT NOT NULL DEFAULT 0,
        l4        BIGINT NOT NULL DEFAULT 0,
        l5        BIGINT NOT NULL DEFAULT 0,
        l6        BIGINT NOT NULL DEFAULT 0,
        l7        BIGINT NOT NULL DEFAULT 0,
        l8        BIGINT NOT NULL DEFAULT 0,
        l9        BIGINT NOT NULL DEFAULT 0,
        l10       BIGINT NOT NULL DEFAULT 0,
        l11       BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (key_hash, hour)
      );
    `,
  },
  {
    version: 8,
    name: 'channels by sender key',
    // See the SQLite migration 8.
    sql: `
      CREATE INDEX channels_sender_key_hash ON channels (sender_key_hash) WHERE sender_key_hash IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'blocklist pages',
    // See the SQLite migration 9.
    sql: `
      CREATE INDEX blocked_sender_keys_page ON blocked_sender_keys (blocked_at, key_hash);
    `,
  },
  {
    version: 10,
    name: 'topic index of topic messages only',
    // See the SQLite migration 10. Only topic messages can conflict, so only they need an entry: a
    // message without a topic (nearly all) costs one index insertion fewer, and one dead entry
    // fewer to vacuum after its ack. The channel foreign key's cascade finds a channel's messages
    // through the primary key's uaid prefix (a device holds at most its backlog). saveMessage(s)
    // name the index's predicate in ON CONFLICT, so PostgreSQL infers it as the arbiter.
    sql: `
      CREATE UNIQUE INDEX messages_channel_topic_only ON messages (uaid, channel_id, topic) WHERE topic IS NOT NULL;
      DROP INDEX messages_channel_topic;
      ALTER INDEX messages_channel_topic_only RENAME TO messages_channel_topic;
    `,
  },
];

/** The newest schema version this code knows. */
export const latestVersion: number = migrations.reduce((max, m) => Math.max(max, m.version), 0);
