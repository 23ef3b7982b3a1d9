/**
 * The storage contract every backend (SQLite embedded, PostgreSQL scale-out) implements, one
 * interface per concern. The conformance suite in test/store/ checks a backend against exactly this.
 *
 * Times are milliseconds since the Unix epoch. Ids are lowercase hex strings:
 * uaid = 32 hex (128 bits), channelId = hyphenated lowercase UUID, message id = 32 hex.
 */

export type Urgency = 'very-low' | 'low' | 'normal' | 'high';

/** A device (user agent). Written at its first `register`, never at `hello`. */
export interface DeviceRecord {
  uaid: string;
  createdAt: number;
  /** Last hello or register; the idle sweep drops devices not seen for a long time. */
  lastSeenAt: number;
}

/** One subscription of a device. */
export interface ChannelRecord {
  uaid: string;
  channelId: string;
  /** SHA-256 of the sender's VAPID public key for a v2 (key-bound) channel; null for v1. */
  senderKeyHash: Buffer | null;
  createdAt: number;
}

/** Headers forwarded to the device with an encrypted payload (protocol.md §2). */
export interface ForwardedHeaders {
  encoding: string;
  encryption?: string;
  crypto_key?: string;
}

/**
 * A sender (VAPID) key that may no longer send: revoked by its holder or blocked by the operator.
 * Only the hash is stored (docs/security.md, data minimisation).
 */
export interface BlockedSenderKey {
  /** SHA-256 over the 65-byte uncompressed P-256 public key (as in ChannelRecord.senderKeyHash). */
  keyHash: Buffer;
  /** 'holder': POST /v1/keys/revoke signed by the key; 'operator': `herald keys block`. */
  source: 'holder' | 'operator';
  reason: string;
  blockedAt: number;
}

/** A message as the endpoint hands it to the store. */
export interface NewMessage {
  /** 32 hex, random; the `version` the device acks. Unique per device. */
  id: string;
  uaid: string;
  channelId: string;
  /** Replaces a pending message with the same topic on the same channel. */
  topic: string | null;
  urgency: Urgency;
  /** Effective TTL in seconds (already capped). */
  ttl: number;
  receivedAt: number;
  /** receivedAt + ttl * 1000. */
  expiresAt: number;
  /** Encrypted body as received; null for an empty body. */
  data: Buffer | null;
  /** null when data is null. */
  headers: ForwardedHeaders | null;
}

/** A stored message. `seq` orders arrival within the store (monotonic, backend-assigned). */
export interface StoredMessage extends NewMessage {
  seq: number;
}

/**
 * Where a drain stands. Messages are returned topic messages first, then the others, each group in
 * arrival (seq) order. The cursor keeps one position per group, so a topic message that arrives
 * after the drain moved on to the topicless group is still fetched next (topic first).
 * `cursorAfter` (store/cursor.ts) advances it past a fetched page.
 */
export interface DrainCursor {
  /** Topic messages with seq <= topicSeq were already fetched. */
  topicSeq: number;
  /** Messages without a topic with seq <= seq were already fetched. */
  seq: number;
}

/**
 * Herald adds (docs/wakeup.md): where a device that is not connected listens for UDP wake-up
 * datagrams. Kept with the device (dropped with it), so a restart of Herald keeps it.
 */
export interface WakeupAddress {
  /** An IP literal (no names: Herald never resolves a device-chosen host). */
  host: string;
  port: number;
  /** Id of the ring key the device's wake-up key was derived from, i.e. the key it was handed. */
  keyId: number;
  updatedAt: number;
}

export interface FetchOptions {
  /** Only messages strictly after this position. Absent: from the start. */
  after?: DrainCursor;
  limit: number;
  /** Messages whose expiresAt <= now are not returned. */
  now: number;
}

/**
 * The store, split by concern. Each consumer takes only the slice it uses (the endpoint takes
 * `MessageStore & DeviceStore`, the sweeper `HousekeepingStore`, …); a backend implements `Store`,
 * their intersection, and the conformance suite checks it slice by slice.
 */
export interface StoreLifecycle {
  /** Runs pending numbered migrations. Safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Throws when storage is not usable (used by /__heartbeat__). */
  ping(): Promise<void>;
}

/** Devices and their channels (subscriptions). */
export interface DeviceStore {
  getDevice(uaid: string): Promise<DeviceRecord | null>;
  /** Creates the device if absent; sets lastSeenAt either way. */
  upsertDevice(uaid: string, now: number): Promise<void>;
  /** Sets lastSeenAt of an existing device; false when it does not exist. */
  touchDevice(uaid: string, now: number): Promise<boolean>;
  /** Deletes the device with all its channels and messages. False when it did not exist. */
  dropDevice(uaid: string): Promise<boolean>;

  /** Creates or replaces the channel (a re-register may change its sender key). */
  putChannel(channel: ChannelRecord): Promise<void>;
  getChannel(uaid: string, channelId: string): Promise<ChannelRecord | null>;
  /** Deletes the channel and its pending messages. False when it did not exist. */
  deleteChannel(uaid: string, channelId: string): Promise<boolean>;
  countChannels(uaid: string): Promise<number>;
  /**
   * Channels (of every device) bound to this sender key hash: an app's subscriptions, as the
   * console shows them. A count only; which devices hold them is not the app's to see.
   */
  countChannelsBySenderKey(keyHash: Buffer): Promise<number>;
}

/** Stored messages of devices. */
export interface MessageStore {
  /**
   * Stores a message durably before the sender is answered. When `topic` is set, a pending message
   * with the same topic on the same channel is replaced in the same transaction. Throws
   * `SubscriptionMissingError` when the channel does not exist (it was unregistered meanwhile).
   */
  saveMessage(message: NewMessage): Promise<void>;
  fetchMessages(uaid: string, options: FetchOptions): Promise<StoredMessage[]>;
  /** Pending and not expired at `now`. */
  getMessage(uaid: string, id: string, now: number): Promise<StoredMessage | null>;
  /** Deletes one message of this device. False when it was not there. */
  deleteMessage(uaid: string, id: string): Promise<boolean>;
  countMessages(uaid: string, now: number): Promise<number>;
  /** Pending, unexpired messages of one subscription (the per-subscription backlog cap). */
  countChannelMessages(uaid: string, channelId: string, now: number): Promise<number>;
  /** Pending, unexpired messages of this device and the bytes of their payloads (guard caps). */
  deviceBacklog(uaid: string, now: number): Promise<DeviceBacklog>;
}

/** The sender key blocklist (durable; survives restarts and is shared by every node on one database). */
export interface SenderKeyStore {
  /** Adds the key to the blocklist. Idempotent: an existing entry is kept unchanged; true only when new. */
  blockSenderKey(entry: BlockedSenderKey): Promise<boolean>;
  /** Removes the key from the blocklist; false when it was not there. */
  unblockSenderKey(keyHash: Buffer): Promise<boolean>;
  isSenderKeyBlocked(keyHash: Buffer): Promise<boolean>;
  /** Every blocked key, oldest first. */
  listBlockedSenderKeys(): Promise<BlockedSenderKey[]>;
  /**
   * One page of the blocklist, newest first: keyed by (blockedAt, keyHash), descending, and answered
   * by an index seek (migration 9), so the console's table never reads the whole list.
   */
  listBlockedSenderKeysPage(query: import('./keyset.js').KeysetQuery<BlockedKeyCursor>): Promise<BlockedSenderKey[]>;
  countBlockedSenderKeys(): Promise<number>;
}

/** The sort key of the blocklist's pages. */
export interface BlockedKeyCursor {
  at: number;
  keyHash: Buffer;
}

/** Wake-up addresses (migration 3; docs/wakeup.md). */
export interface WakeupStore {
  /** Creates or replaces the device's wake-up address; false (nothing written) when the device does not exist. */
  setWakeupAddress(uaid: string, address: WakeupAddress): Promise<boolean>;
  getWakeupAddress(uaid: string): Promise<WakeupAddress | null>;
  /** False when the device had none. */
  deleteWakeupAddress(uaid: string): Promise<boolean>;
}

/** Device owners (migration 4; push.deviceAuth = "token"). */
export interface DeviceOwnerStore {
  /**
   * Binds an existing device to the token-server user it registered under. The first binding
   * stays: false when the device does not exist or is bound to someone else.
   */
  bindDeviceOwner(uaid: string, owner: string, now: number): Promise<boolean>;
  getDeviceOwner(uaid: string): Promise<string | null>;
  /** Drops every device bound to this owner, with everything it had; returns how many. */
  dropDevicesOwnedBy(owner: string): Promise<number>;
}

/** A certificate Herald's CA issued to a device (migration 5; docs/devices.md). */
export interface DeviceCertificateRecord {
  /** The certificate's serial number, lowercase hex without leading zeros' ambiguity (as issued). */
  serial: string;
  /** The device id in the certificate's SAN. */
  deviceId: string;
  /** The app (enrollment scope) it was issued for; null when issued by an operator without one. */
  app: string | null;
  issuedAt: number;
  expiresAt: number;
  /** null while valid. */
  revokedAt: number | null;
  revocationReason: string | null;
}

/** An enrollment code, by the SHA-256 of the code (never the code itself). */
export interface EnrollmentCode {
  codeHash: Buffer;
  app: string;
  /** The device id the certificate will name; null: the device says (within the app's rules). */
  deviceId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** Device certificates and enrollment codes (migration 5; Herald's CA, src/devices/). */
export interface DeviceCertificateStore {
  /** Records an issued certificate; a serial already recorded throws. */
  recordDeviceCertificate(record: Omit<DeviceCertificateRecord, 'revokedAt' | 'revocationReason'>): Promise<void>;
  getDeviceCertificate(serial: string): Promise<DeviceCertificateRecord | null>;
  /** Marks it revoked (the first revocation's time and reason stay); false when no such serial or already revoked. */
  revokeDeviceCertificate(serial: string, reason: string, now: number): Promise<boolean>;
  /** Every recorded certificate, in issue order (oldest first). */
  listDeviceCertificates(): Promise<DeviceCertificateRecord[]>;
  /** Stores a new code; a hash already stored throws. */
  createEnrollmentCode(code: EnrollmentCode): Promise<void>;
  /**
   * Takes the code: returns it and deletes it in one step, so two devices racing with one code
   * get it once. null when unknown, already used, or expired at `now` (an expired one is deleted too).
   */
  consumeEnrollmentCode(codeHash: Buffer, now: number): Promise<EnrollmentCode | null>;
}

/** The expiry and idle sweeps. */
export interface HousekeepingStore {
  /**
   * Deletes messages with expiresAt <= now; says how many, and how many of them were on channels
   * bound to each sender key (the per-app "expired" count). One statement or transaction: the
   * counts are of exactly the rows deleted.
   */
  sweepExpiredMessages(now: number): Promise<ExpirySweep>;
  /** Drops devices (with channels and messages) whose lastSeenAt < before; returns how many. */
  sweepIdleDevices(before: number): Promise<number>;
  /**
   * Counts for operators (`herald admin devices|messages stats`): never an id or a payload. Scans
   * the tables: an admin request, not something to poll every second on a large database.
   */
  stats(now: number): Promise<StoreStats>;
}

/** What one expiry sweep deleted. */
export interface ExpirySweep {
  /** Every message deleted. */
  deleted: number;
  /** Those of key-bound (v2) channels, per sender key hash; v1 channels (no key) are not listed. */
  bySenderKey: SenderKeyCount[];
}

export interface SenderKeyCount {
  keyHash: Buffer;
  count: number;
}

export interface StoreStats {
  devices: number;
  channels: number;
  /** Devices with at least one pending (unexpired) message. */
  devicesWithBacklog: number;
  /** The most pending messages any one device holds. */
  largestBacklog: number;
  /** Pending (unexpired) messages and their stored bytes (bodies and forwarded headers). */
  pendingMessages: number;
  pendingBytes: number;
  /** Expired messages the next sweep deletes. */
  expiredMessages: number;
  /** When the oldest pending message was received; null when none is pending. */
  oldestPendingAt: number | null;
}

/**
 * One key of the secrets.json key rings as the database remembers it (migration 5): an HMAC made
 * with the key, never the key. Every node of a cluster must hold the same rings; store/
 * secrets-fingerprint.ts compares a starting node's rings with these rows.
 */
export interface SecretFingerprint {
  /** The ring: endpointTokens, messageIds, tokenServer. */
  purpose: string;
  keyId: number;
  /** 32 bytes: HMAC-SHA-256 keyed by the secret over a fixed label, the purpose and the id. */
  fingerprint: Buffer;
}

export interface RecordedSecretFingerprint extends SecretFingerprint {
  recordedAt: number;
  /** When a node first started sealing with this key (the key first in its ring); null: never yet. */
  sealingSince: number | null;
}

/** The fingerprints of the key rings (migration 5). */
export interface SecretFingerprintStore {
  /** Every recorded key, in no particular order. */
  listSecretFingerprints(): Promise<RecordedSecretFingerprint[]>;
  /**
   * Records each key not recorded yet (a recorded (purpose, keyId) keeps its first fingerprint,
   * so two nodes starting at once cannot overwrite each other). For each key in `sealing` whose
   * recorded fingerprint is the one given, sets sealingSince to `now` unless it is set already.
   */
  recordSecretFingerprints(keys: readonly SecretFingerprint[], sealing: readonly SecretFingerprint[], now: number): Promise<void>;
}

/** Everything a backend implements. */
export type Store = StoreLifecycle &
  DeviceStore &
  MessageStore &
  SenderKeyStore &
  WakeupStore &
  DeviceOwnerStore &
  DeviceCertificateStore &
  HousekeepingStore &
  SecretFingerprintStore & {
    /** Per-app hourly counters (migration 7; the console's charts). */
    readonly appStats: AppStatsStore;
  };

/**
 * Upper bounds (ms) of the latency histogram's buckets; the last bucket counts everything above
 * the last bound. Fixed, so rows of any node and any hour add up bucket by bucket.
 */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] as const;
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** One sender key's counts over one hour (hour: whole hours since the epoch, UTC). */
export interface AppStatsRow {
  /** SHA-256 of the sender's VAPID public key (32 bytes). */
  keyHash: Buffer;
  hour: number;
  accepted: number;
  delivered: number;
  stored: number;
  expired: number;
  refused: number;
  /** LATENCY_BUCKETS counts, bucket i holding latencies up to LATENCY_BOUNDS_MS[i]. */
  latency: number[];
}

export interface AppStatsStore {
  /** Adds each row's counts to the stored row of its (key, hour), creating it when missing. */
  addAppStats(rows: readonly AppStatsRow[]): Promise<void>;
  /** The key's rows with fromHour <= hour < toHour, oldest first (hours with nothing are absent). */
  appStats(keyHash: Buffer, fromHour: number, toHour: number): Promise<AppStatsRow[]>;
  /** Deletes rows older than the hour; returns how many. */
  pruneAppStats(beforeHour: number): Promise<number>;
}

/** What a device's stored messages add up to. */
export interface DeviceBacklog {
  messages: number;
  /** Sum of the stored payload sizes (bodies only). */
  bytes: number;
}

/** saveMessage found no such channel: the subscription is gone (the endpoint answers 410). */
export class SubscriptionMissingError extends Error {
  override name = 'SubscriptionMissingError';
  constructor() {
    super('no such subscription');
  }
}
