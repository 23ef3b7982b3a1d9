/**
 * The AES-128-GCM record primitive both Web Push content codings share: one key, and a nonce per
 * record made from a base nonce and the record's position, so records cannot be reordered.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { DecryptError } from './decrypt-error.js';

export const TAG_LENGTH = 16;

/** The base nonce XOR the record's sequence number as a 96-bit big-endian integer. */
export function recordNonce(base: Buffer, sequence: number): Buffer {
  const nonce = Buffer.from(base);
  let rest = sequence;
  for (let i = nonce.length - 1; i >= 0 && rest > 0; i -= 1) {
    nonce[i] = (nonce[i] ?? 0) ^ rest % 256;
    rest = Math.floor(rest / 256);
  }
  return nonce;
}

export function sealRecord(key: Buffer, baseNonce: Buffer, sequence: number, padded: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-128-gcm', key, recordNonce(baseNonce, sequence), { authTagLength: TAG_LENGTH });
  return Buffer.concat([cipher.update(padded), cipher.final(), cipher.getAuthTag()]);
}

/** The padded plaintext of one record; DecryptError when it does not authenticate. */
export function openRecord(key: Buffer, baseNonce: Buffer, sequence: number, record: Buffer): Buffer {
  if (record.length < TAG_LENGTH) throw new DecryptError(`record ${sequence} is shorter than its tag`);
  try {
    const decipher = createDecipheriv('aes-128-gcm', key, recordNonce(baseNonce, sequence), { authTagLength: TAG_LENGTH });
    decipher.setAuthTag(record.subarray(record.length - TAG_LENGTH));
    return Buffer.concat([decipher.update(record.subarray(0, record.length - TAG_LENGTH)), decipher.final()]);
  } catch {
    throw new DecryptError(`record ${sequence} does not authenticate`);
  }
}
