/**
 * The SQLite schema as numbered migrations. Each runs once, in its own transaction, and is recorded
 * in `schema_migrations` (store/migrations/sqlite-runner.ts). Never edit a migration that has
 * shipped: add the next number instead.
 * The PostgreSQL backend keeps its own list with the same numbering, so "version 3" means the same
 * logical schema on both.
 */

import type { Migration } from '../migrations/migration-list.js';

export type { Migration } from '../migrations/migration-list.js';

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, channels, messages',
    // STRICT tables refuse a value of the wrong type (a float ttl, a string time) instead of
    // storing it silently. Ids are TEXT: at 32 hex they cost a few bytes per row over BLOB,
    // and keep the database readable with the sqlite3 shell.
    sql: `
      CREATE TABLE devices (
        uaid         TEXT    NOT NULL PRIMARY KEY,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX devices_last_seen_at ON devices (last_seen_at);

      CREATE TABLE channels (
        uaid            TEXT    NOT NULL REFERENCES devices (uaid) ON DELETE CASCADE,
        channel_id      TEXT    NOT NULL,
        sender_key_hash BLOB,
        created_at      INTEGER NOT NULL,
        PRIMARY KEY (uaid, channel_id)
      ) STRICT;

      -- AUTOINCREMENT: a plain rowid reuses max(seq)+1 after the newest row is deleted, and a
      -- draining session whose cursor sits on that seq would skip the message that reused it.
      CREATE TABLE messages (
        seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        uaid        TEXT    NOT NULL,
        id          TEXT    NOT NULL,
        channel_id  TEXT    NOT NULL,
        topic       TEXT,
        urgency     TEXT    NOT NULL CHECK (urgency IN ('very-low', 'low', 'normal', 'high')),
        ttl         INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        data        BLOB,
        headers     TEXT,
        FOREIGN KEY (uaid, channel_id) REFERENCES channels (uaid, channel_id) ON DELETE CASCADE
      ) STRICT;
      -- ack / sender delete / GET by (uaid, id); also makes a message id unique per device.
      CREATE UNIQUE INDEX messages_uaid_id ON messages (uaid, id);
      -- the drain: per device, topic messages first, then by seq; a cursor seeks into it.
      CREATE INDEX messages_drain ON messages (uaid, topic IS NULL, seq);
      -- topic replacement, and the child side of the channel foreign key (cascade on unregister).
      CREATE INDEX messages_channel_topic ON messages (uaid, channel_id, topic);
      CREATE INDEX messages_expires_at ON messages (expires_at);
    `,
  },
  {
    version: 2,
    name: 'blocked sender keys',
    // Sender keys revoked by their holder (POST /v1/keys/revoke) or blocked by the operator. Only the
    // SHA-256 of the key is kept: it is all the endpoint needs to refuse it, and a leaked database
    // then names no key in clear. Rows are never deleted by Herald itself (only `herald keys unblock`).
    sql: `
      CREATE TABLE blocked_sender_keys (
        key_hash   BLOB    NOT NULL PRIMARY KEY CHECK (length(key_hash) = 32),
        source     TEXT    NOT NULL CHECK (source IN ('holder', 'operator')),
        reason     TEXT    NOT NULL,
        blocked_at INTEGER NOT NULL
      ) STRICT;
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
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 4,
    name: 'device owners',
    // push.deviceAuth = "token": the token-server user a device was registered under. A later hello
    // for this uaid must carry a token of the same user; a retired user's devices are dropped.
    sql: `
      CREATE TABLE device_owners (
        uaid     TEXT    NOT NULL PRIMARY KEY REFERENCES devices (uaid) ON DELETE CASCADE,
        owner    TEXT    NOT NULL,
        bound_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX device_owners_owner ON device_owners (owner);
    `,
  },
  {
    version: 5,
    name: 'secret fingerprints',
    // One row per key of the secrets.json rings: an HMAC keyed by the secret, never the secret
    // (store/secrets-fingerprint.ts). A node whose secrets do not match these refuses to start:
    // it would answer 404 errno 102 to every endpoint the others issued. sealing_since says when a
    // node first sealed with the key, so the newest sealing key is known during a rotation.
    sql: `
      CREATE TABLE secret_fingerprints (
        purpose       TEXT    NOT NULL,
        key_id        INTEGER NOT NULL CHECK (key_id BETWEEN 0 AND 255),
        fingerprint   BLOB    NOT NULL CHECK (length(fingerprint) = 32),
        recorded_at   INTEGER NOT NULL,
        sealing_since INTEGER,
        PRIMARY KEY (purpose, key_id)
      ) STRICT;
    `,
  },
  {
    version: 6,
    name: 'device certificates and enrollment codes',
    // Herald's CA (docs/devices.md): every serial it issued, so revocation is one row that every
    // node reads, and enrollment codes by their SHA-256 only (a leaked database enrols nobody).
    sql: `
      CREATE TABLE device_certificates (
        serial            TEXT    NOT NULL PRIMARY KEY,
        device_id         TEXT    NOT NULL,
        app               TEXT,
        issued_at         INTEGER NOT NULL,
        expires_at        INTEGER NOT NULL,
        revoked_at        INTEGER,
        revocation_reason TEXT
      ) STRICT;
      CREATE INDEX device_certificates_device ON device_certificates (device_id);

      CREATE TABLE enrollment_codes (
        code_hash  BLOB    NOT NULL PRIMARY KEY CHECK (length(code_hash) = 32),
        app        TEXT    NOT NULL,
        device_id  TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 7,
    name: 'app stats',
    // The web console's per-app charts (docs/console.md): one row per sender key hash and hour,
    // counts added by each node's batched flush (src/ops/app-stats.ts); l0..l11 are the latency
    // histogram's buckets (LATENCY_BOUNDS_MS in store/types.ts), so percentiles add up across nodes.
    sql: `
      CREATE TABLE app_stats_hourly (
        key_hash  BLOB NOT NULL CHECK (length(key_hash) = 32),
        hour      INTEGER NOT NULL,
        accepted  INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        stored    INTEGER NOT NULL DEFAULT 0,
        expired   INTEGER NOT NULL DEFAULT 0,
        refused   INTEGER NOT NULL DEFAULT 0,
        l0        INTEGER NOT NULL DEFAULT 0,
        l1        INTEGER NOT NULL DEFAULT 0,
        l2        INTEGER NOT NULL DEFAULT 0,
        l3        INTEGER NOT NULL DEFAULT 0,
        l4        INTEGER NOT NULL DEFAULT 0,
        l5        INTEGER NOT NULL DEFAULT 0,
        l6        INTEGER NOT NULL DEFAULT 0,
        l7        INTEGER NOT NULL DEFAULT 0,
        l8        INTEGER NOT NULL DEFAULT 0,
        l9        INTEGER NOT NULL DEFAULT 0,
        l10       INTEGER NOT NULL DEFAULT 0,
        l11       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (key_hash, hour)
      ) STRICT;
    `,
  },
  {
    version: 8,
    name: 'channels by sender key',
    // The console's subscription count per app (countChannelsBySenderKey) scanned every channel
    // without it. Partial: v1 channels (no sender key) are never looked up by key, so they cost
    // the index nothing.
    sql: `
      CREATE INDEX channels_sender_key_hash ON channels (sender_key_hash) WHERE sender_key_hash IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'blocklist pages',
    // The console's blocklist table pages newest first by (blocked_at, key_hash): without it each
    // page sorted the whole list, which an operator's feed-driven blocklist makes large.
    sql: `
      CREATE INDEX blocked_sender_keys_page ON blocked_sender_keys (blocked_at, key_hash);
    `,
  },
  {
    version: 10,
    name: 'topic index of topic messages only',
    // Only a topic message is ever looked up by topic (deleteTopic: topic = ? implies the index's
    // predicate), so only topic messages need an entry: a message without a topic (nearly all)
    // costs one index write fewer when it is stored and when its ack deletes it. The channel
    // foreign key's cascade and countChannelMessages find a channel's messages through the uaid
    // prefix of messages_uaid_id (a device holds at most its backlog).
    sql: `
      DROP INDEX messages_channel_topic;
      CREATE INDEX messages_channel_topic ON messages (uaid, channel_id, topic) WHERE topic IS NOT NULL;
    `,
  },
];

/** The newest schema version this code knows. */
export const latestVersion: number = migrations.reduce((max, m) => Math.max(max, m.version), 0);
