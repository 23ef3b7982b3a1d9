/**
 * The "aes128gcm" content coding of RFC 8188, given the input keying material. Web Push (RFC 8291)
 * only decides where that material comes from; keeping this layer separate lets it be checked
 * against RFC 8188's own examples.
 */
import { DecryptError } from './decrypt-error.js';
import { hkdfSha256 } from './hkdf.js';
import { openRecord, sealRecord, TAG_LENGTH } from './records.js';

export interface Aes128gcmHeader {
  salt: Buffer;
  recordSize: number;
  keyId: Buffer;
  headerLength: number;
}

const SALT_LENGTH = 16;
const FIXED_HEADER_LENGTH = SALT_LENGTH + 4 + 1;
const KEY_LENGTH = 16;
const NONCE_LENGTH = 12;
const MIN_RECORD_SIZE = TAG_LENGTH + 2;
const MAX_RECORD_SIZE = 0xffffffff;
const LAST_RECORD_DELIMITER = 0x02;
const RECORD_DELIMITER = 0x01;
const CEK_INFO = Buffer.from('Content-Encoding: aes128gcm\0', 'latin1');
const NONCE_INFO = Buffer.from('Content-Encoding: nonce\0', 'latin1');

/** Null when the body cannot hold the header it declares, or declares a record size below 18. */
export function parseAes128gcmHeader(body: Uint8Array): Aes128gcmHeader | null {
  if (body.length < FIXED_HEADER_LENGTH) return null;
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const recordSize = bytes.readUInt32BE(SALT_LENGTH);
  const keyIdLength = bytes.readUInt8(SALT_LENGTH + 4);
  const headerLength = FIXED_HEADER_LENGTH + keyIdLength;
  if (recordSize < MIN_RECORD_SIZE || bytes.length < headerLength) return null;
  return {
    salt: Buffer.from(bytes.subarray(0, SALT_LENGTH)),
    recordSize,
    keyId: Buffer.from(bytes.subarray(FIXED_HEADER_LENGTH, headerLength)),
    headerLength,
  };
}

export interface EncryptContentOptions {
  plaintext: Uint8Array;
  ikm: Uint8Array;
  salt: Uint8Array;
  keyId: Uint8Array;
  recordSize: number;
  paddingLength: number;
}

/**
 * Header and one record. Only a single record is written because RFC 8291 §4 requires push
 * messages to be one record; a plaintext that does not fit the record size is refused.
 */
export function encryptContent(options: EncryptContentOptions): Buffer {
  const { plaintext, ikm, salt, keyId, recordSize, paddingLength } = options;
  if (salt.length !== SALT_LENGTH) throw new RangeError(`the salt must be ${SALT_LENGTH} bytes`);
  if (keyId.length > 255) throw new RangeError('the key id is longer than 255 bytes');
  if (!Number.isInteger(recordSize) || recordSize < MIN_RECORD_SIZE || recordSize > MAX_RECORD_SIZE) {
    throw new RangeError(`the record size must be an integer in ${MIN_RECORD_SIZE}..${MAX_RECORD_SIZE}`);
  }
  if (!Number.isInteger(paddingLength) || paddingLength < 0) throw new RangeError('the padding length must be a non-negative integer');
  const recordLength = plaintext.length + 1 + paddingLength + TAG_LENGTH;
  if (recordLength > recordSize) {
    throw new RangeError(`${plaintext.length} bytes with ${paddingLength} bytes of padding do not fit one record of ${recordSize} bytes`);
  }

  const header = Buffer.alloc(FIXED_HEADER_LENGTH + keyId.length);
  header.set(salt, 0);
  header.writeUInt32BE(recordSize, SALT_LENGTH);
  header.writeUInt8(keyId.length, SALT_LENGTH + 4);
  header.set(keyId, FIXED_HEADER_LENGTH);

  const { key, nonce } = deriveContentKeys(ikm, salt);
  const padded = Buffer.alloc(plaintext.length + 1 + paddingLength);
  padded.set(plaintext, 0);
  padded[plaintext.length] = LAST_RECORD_DELIMITER;
  return Buffer.concat([header, sealRecord(key, nonce, 0, padded)]);
}

/**
 * Decrypts every record of a body whose header was already parsed. Throws DecryptError on any
 * failure, including truncation: the last record must carry the 0x02 delimiter.
 */
export function decryptContent(body: Uint8Array, header: Aes128gcmHeader, ikm: Uint8Array): Buffer {
  const records = Buffer.from(body.buffer, body.byteOffset, body.byteLength).subarray(header.headerLength);
  if (records.length === 0) throw new DecryptError('the body holds no record');
  const { key, nonce } = deriveContentKeys(ikm, header.salt);
  const parts: Buffer[] = [];
  let sequence = 0;
  for (let start = 0; start < records.length; start += header.recordSize, sequence += 1) {
    const record = records.subarray(start, start + header.recordSize);
    const last = start + header.recordSize >= records.length;
    if (record.length < TAG_LENGTH + 1) throw new DecryptError(`record ${sequence} is too short`);
    const padded = openRecord(key, nonce, sequence, record);
    parts.push(removePadding(padded, last, sequence));
  }
  return Buffer.concat(parts);
}

function deriveContentKeys(ikm: Uint8Array, salt: Uint8Array): { key: Buffer; nonce: Buffer } {
  return {
    key: hkdfSha256(ikm, salt, CEK_INFO, KEY_LENGTH),
    nonce: hkdfSha256(ikm, salt, NONCE_INFO, NONCE_LENGTH),
  };
}

function removePadding(padded: Buffer, last: boolean, sequence: number): Buffer {
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (end < 0) throw new DecryptError(`record ${sequence} has no delimiter`);
  const expected = last ? LAST_RECORD_DELIMITER : RECORD_DELIMITER;
  if (padded[end] !== expected) {
    throw new DecryptError(
      last ? `the last record (${sequence}) does not end with the 0x02 delimiter: the body may be truncated` : `record ${sequence} does not end with the 0x01 delimiter`,
    );
  }
  return padded.subarray(0, end);
}
