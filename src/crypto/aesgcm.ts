/**
 * The legacy "aesgcm" coding (draft-ietf-webpush-encryption-04 over
 * draft-ietf-httpbis-encryption-encoding-03). Superseded by aes128gcm, but web-push still sends it
 * on request and Firefox still accepts it, so Herald's client must read it.
 *
 * Differences from RFC 8188 that matter: salt and sender key travel in headers, both public keys
 * enter the key derivation as a "context", padding is a 2-byte length *before* the data, and "rs"
 * counts plaintext, so a stream ends with the first record shorter than rs.
 */
import { DecryptError } from './decrypt-error.js';
import { hkdfSha256 } from './hkdf.js';
import { openRecord, sealRecord, TAG_LENGTH } from './records.js';

export const AESGCM_DEFAULT_RECORD_SIZE = 4096;
const PADDING_PREFIX = 2;
const KEY_LENGTH = 16;
const NONCE_LENGTH = 12;
const SALT_LENGTH = 16;

interface ContentKeys {
  key: Buffer;
  nonce: Buffer;
}

/** Key and base nonce from the ECDH secret, the auth secret, the salt and both public keys. */
export function deriveAesgcmKeys(options: {
  sharedSecret: Buffer;
  authSecret: Uint8Array;
  salt: Uint8Array;
  uaPublicKey: Uint8Array;
  senderPublicKey: Uint8Array;
}): ContentKeys {
  if (options.salt.length !== SALT_LENGTH) throw new RangeError(`the salt must be ${SALT_LENGTH} bytes`);
  const ikm = hkdfSha256(options.sharedSecret, options.authSecret, Buffer.from('Content-Encoding: auth\0', 'latin1'), 32);
  const context = Buffer.concat([
    Buffer.from('P-256\0', 'latin1'),
    lengthPrefixed(options.uaPublicKey),
    lengthPrefixed(options.senderPublicKey),
  ]);
  return {
    key: hkdfSha256(ikm, options.salt, Buffer.concat([Buffer.from('Content-Encoding: aesgcm\0', 'latin1'), context]), KEY_LENGTH),
    nonce: hkdfSha256(ikm, options.salt, Buffer.concat([Buffer.from('Content-Encoding: nonce\0', 'latin1'), context]), NONCE_LENGTH),
  };
}

export function encryptAesgcmRecords(keys: ContentKeys, plaintext: Uint8Array, recordSize: number): Buffer {
  assertRecordSize(recordSize);
  const chunkSize = recordSize - PADDING_PREFIX;
  const records: Buffer[] = [];
  // A full-size record says "more follows", so a plaintext filling its last record exactly needs
  // one more, empty, record to mark the end.
  for (let start = 0, sequence = 0; ; start += chunkSize, sequence += 1) {
    const chunk = plaintext.subarray(start, start + chunkSize);
    const padded = Buffer.alloc(PADDING_PREFIX + chunk.length);
    padded.set(chunk, PADDING_PREFIX);
    records.push(sealRecord(keys.key, keys.nonce, sequence, padded));
    if (chunk.length < chunkSize) break;
  }
  return Buffer.concat(records);
}

export function decryptAesgcmRecords(keys: ContentKeys, body: Uint8Array, recordSize: number): Buffer {
  assertRecordSize(recordSize);
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const stride = recordSize + TAG_LENGTH;
  if (bytes.length === 0) throw new DecryptError('the body holds no record');
  if (bytes.length % stride === 0) throw new DecryptError('the last record is full size: the body is truncated');
  const parts: Buffer[] = [];
  for (let start = 0, sequence = 0; start < bytes.length; start += stride, sequence += 1) {
    const record = bytes.subarray(start, start + stride);
    if (record.length < TAG_LENGTH + PADDING_PREFIX) throw new DecryptError(`record ${sequence} is too short`);
    const padded = openRecord(keys.key, keys.nonce, sequence, record);
    const paddingLength = padded.readUInt16BE(0);
    const dataStart = PADDING_PREFIX + paddingLength;
    if (dataStart > padded.length) throw new DecryptError(`record ${sequence} declares more padding than it holds`);
    if (padded.subarray(PADDING_PREFIX, dataStart).some((byte) => byte !== 0)) {
      throw new DecryptError(`record ${sequence} has non-zero padding`);
    }
    parts.push(padded.subarray(dataStart));
  }
  return Buffer.concat(parts);
}

function lengthPrefixed(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  out.set(bytes, 2);
  return out;
}

function assertRecordSize(recordSize: number): void {
  if (!Number.isInteger(recordSize) || recordSize <= PADDING_PREFIX || recordSize > 0xffffffff) {
    throw new RangeError(`the aesgcm record size must be an integer above ${PADDING_PREFIX}`);
  }
}
