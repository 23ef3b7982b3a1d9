/**
 * The UDP wake-up datagram (docs/wakeup.md), shared by Herald (which makes it) and the client
 * library (which checks it), so both sides read one definition of the format.
 *
 *   offset  size  field
 *        0     2  magic "HW"
 *        2     1  format version (1)
 *        3     1  key id: the id of the ring key the device's wake-up key was derived from
 *        4     8  timestamp, milliseconds since the epoch, unsigned big-endian
 *       12     8  counter, unsigned big-endian, strictly increasing for a given key
 *       20    32  HMAC-SHA-256 over bytes 0..19 with the device's wake-up key
 *
 * 52 bytes. It carries no uaid, channel or payload: an eavesdropper on the device's network learns
 * only that some Herald device there has news, and cannot link datagrams to a device identity
 * beyond the key id (shared by every device keyed under that ring key).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { hkdfSha256 } from './hkdf.js';

export const WAKEUP_DATAGRAM_BYTES = 52;
export const WAKEUP_KEY_BYTES = 32;
const MAGIC = Buffer.from('HW', 'ascii');
const VERSION = 1;
const SIGNED_BYTES = 20;
const MAX_U64 = 2n ** 64n - 1n;

export interface WakeupFields {
  keyId: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Strictly increasing per key (Herald makes it from its clock, see notifier.ts). */
  counter: bigint;
}

/**
 * The device's wake-up key: HKDF-SHA-256 of a ring key, bound to the uaid. Nothing is stored; it
 * rotates with the ring, and knowing one device's key tells nothing about the ring key or another
 * device's key (HKDF is a PRF). The info label keeps it apart from every token subkey of the ring.
 */
export function deriveWakeupKey(ringSecret: Uint8Array, uaid: string): Buffer {
  return hkdfSha256(ringSecret, Buffer.alloc(0), Buffer.from(`herald wakeup v1 ${uaid}`, 'utf8'), WAKEUP_KEY_BYTES);
}

export function encodeWakeupDatagram(fields: WakeupFields, key: Uint8Array): Buffer {
  if (!Number.isInteger(fields.keyId) || fields.keyId < 0 || fields.keyId > 255) throw new RangeError('keyId must be 0..255');
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp < 0) throw new RangeError('timestamp must be a non-negative integer');
  if (fields.counter < 0n || fields.counter > MAX_U64) throw new RangeError('counter must fit 64 unsigned bits');
  const datagram = Buffer.alloc(WAKEUP_DATAGRAM_BYTES);
  MAGIC.copy(datagram, 0);
  datagram[2] = VERSION;
  datagram[3] = fields.keyId;
  datagram.writeBigUInt64BE(BigInt(fields.timestamp), 4);
  datagram.writeBigUInt64BE(fields.counter, 12);
  mac(key, datagram.subarray(0, SIGNED_BYTES)).copy(datagram, SIGNED_BYTES);
  return datagram;
}

/** The key id of a datagram that has Herald's shape (to pick the key); null for anything else. */
export function peekWakeupKeyId(datagram: Uint8Array): number | null {
  if (datagram.length !== WAKEUP_DATAGRAM_BYTES) return null;
  const bytes = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  if (!bytes.subarray(0, 2).equals(MAGIC) || bytes[2] !== VERSION) return null;
  return bytes[3] ?? null;
}

/**
 * The fields of a datagram whose MAC is right under `key`, else null. Freshness and replay are the
 * receiver's to judge (see WakeupGuard in src/client/wakeup.ts): this only proves who made it.
 */
export function openWakeupDatagram(datagram: Uint8Array, key: Uint8Array): WakeupFields | null {
  const keyId = peekWakeupKeyId(datagram);
  if (keyId === null || key.length !== WAKEUP_KEY_BYTES) return null;
  const bytes = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const expected = mac(key, bytes.subarray(0, SIGNED_BYTES));
  // Both are exactly 32 bytes here, as timingSafeEqual requires.
  if (!timingSafeEqual(expected, bytes.subarray(SIGNED_BYTES))) return null;
  const timestamp = bytes.readBigUInt64BE(4);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { keyId, timestamp: Number(timestamp), counter: bytes.readBigUInt64BE(12) };
}

function mac(key: Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(signed).digest();
}
