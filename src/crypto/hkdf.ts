import { hkdfSync } from 'node:crypto';

/** HKDF-SHA-256 extract-then-expand (RFC 5869), as every derivation in Web Push uses it. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}
