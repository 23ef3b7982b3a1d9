/**
 * Web Push message encryption (RFC 8291) and its legacy "aesgcm" predecessor. Herald's server never
 * decrypts; this serves the client library, the CLI sender and tests.
 */
import { randomBytes } from 'node:crypto';
import { decryptContent, encryptContent, parseAes128gcmHeader } from './aes128gcm.js';
import { AESGCM_DEFAULT_RECORD_SIZE, decryptAesgcmRecords, deriveAesgcmKeys, encryptAesgcmRecords } from './aesgcm.js';
import { fromBase64Flexible, toBase64Url } from './base64.js';
import { DecryptError } from './decrypt-error.js';
import { hkdfSha256 } from './hkdf.js';
import { generateP256KeyPair, isP256PublicKey, p256SharedSecret } from './p256.js';

export { DecryptError } from './decrypt-error.js';
export { parseAes128gcmHeader } from './aes128gcm.js';

export interface UaKeys {
  /** 65-byte uncompressed P-256 point. */
  publicKey: Buffer;
  /** 32-byte scalar. */
  privateKey: Buffer;
}

const AUTH_SECRET_LENGTH = 16;
const SALT_LENGTH = 16;
const DEFAULT_RECORD_SIZE = 4096;

export function generateUaKeys(): UaKeys {
  return generateP256KeyPair();
}

export function generateAuthSecret(): Buffer {
  return randomBytes(AUTH_SECRET_LENGTH);
}

export function encryptAes128gcm(options: {
  plaintext: Uint8Array;
  uaPublicKey: Buffer;
  authSecret: Buffer;
  salt?: Buffer;
  senderKeys?: UaKeys;
  recordSize?: number;
  paddingLength?: number;
}): Buffer {
  assertSubscriptionKeys(options.uaPublicKey, options.authSecret);
  // A fresh sender key per message is what RFC 8291 §3.1 expects; fixed keys are for test vectors.
  const sender = options.senderKeys ?? generateUaKeys();
  const ikm = webPushIkm(p256SharedSecret(sender.privateKey, options.uaPublicKey), options.authSecret, options.uaPublicKey, sender.publicKey);
  return encryptContent({
    plaintext: options.plaintext,
    ikm,
    salt: options.salt ?? randomBytes(SALT_LENGTH),
    keyId: sender.publicKey,
    recordSize: options.recordSize ?? DEFAULT_RECORD_SIZE,
    paddingLength: options.paddingLength ?? 0,
  });
}

/** The plaintext; throws DecryptError for anything that is not a message for these keys. */
export function decryptAes128gcm(options: { body: Uint8Array; uaKeys: UaKeys; authSecret: Buffer }): Buffer {
  const header = parseAes128gcmHeader(options.body);
  if (!header) throw new DecryptError('the aes128gcm header is truncated or declares a record size below 18');
  // RFC 8291 §4: the key id carries the sender's ephemeral public key.
  if (!isP256PublicKey(header.keyId)) throw new DecryptError('the aes128gcm key id is not a P-256 public key');
  const sharedSecret = agree(options.uaKeys.privateKey, header.keyId);
  const ikm = webPushIkm(sharedSecret, options.authSecret, options.uaKeys.publicKey, header.keyId);
  return decryptContent(options.body, header, ikm);
}

export function encryptAesgcm(options: {
  plaintext: Uint8Array;
  uaPublicKey: Buffer;
  authSecret: Buffer;
  salt?: Buffer;
  senderKeys?: UaKeys;
}): { body: Buffer; salt: string; dh: string } {
  assertSubscriptionKeys(options.uaPublicKey, options.authSecret);
  const sender = options.senderKeys ?? generateUaKeys();
  const salt = options.salt ?? randomBytes(SALT_LENGTH);
  const keys = deriveAesgcmKeys({
    sharedSecret: p256SharedSecret(sender.privateKey, options.uaPublicKey),
    authSecret: options.authSecret,
    salt,
    uaPublicKey: options.uaPublicKey,
    senderPublicKey: sender.publicKey,
  });
  return {
    body: encryptAesgcmRecords(keys, options.plaintext, AESGCM_DEFAULT_RECORD_SIZE),
    salt: toBase64Url(salt),
    dh: toBase64Url(sender.publicKey),
  };
}

/**
 * salt and dh as found in the Encryption and Crypto-Key headers (any base64 spelling). recordSize
 * is the Encryption header's optional rs parameter.
 */
export function decryptAesgcm(options: {
  body: Uint8Array;
  salt: string;
  dh: string;
  uaKeys: UaKeys;
  authSecret: Buffer;
  recordSize?: number;
}): Buffer {
  const salt = fromBase64Flexible(stripQuotes(options.salt));
  if (!salt || salt.length !== SALT_LENGTH) throw new DecryptError('the aesgcm salt is not 16 bytes of base64');
  const senderPublicKey = fromBase64Flexible(stripQuotes(options.dh));
  if (!senderPublicKey || !isP256PublicKey(senderPublicKey)) throw new DecryptError('the aesgcm dh is not a P-256 public key');
  const recordSize = options.recordSize ?? AESGCM_DEFAULT_RECORD_SIZE;
  if (!Number.isInteger(recordSize) || recordSize < 3) throw new DecryptError(`the aesgcm record size ${recordSize} is invalid`);
  const keys = deriveAesgcmKeys({
    sharedSecret: agree(options.uaKeys.privateKey, senderPublicKey),
    authSecret: options.authSecret,
    salt,
    uaPublicKey: options.uaKeys.publicKey,
    senderPublicKey,
  });
  return decryptAesgcmRecords(keys, options.body, recordSize);
}

/** RFC 8291 §3.3: the IKM binds the shared secret to the auth secret and both public keys. */
function webPushIkm(sharedSecret: Buffer, authSecret: Uint8Array, uaPublicKey: Uint8Array, senderPublicKey: Uint8Array): Buffer {
  const info = Buffer.concat([Buffer.from('WebPush: info\0', 'latin1'), uaPublicKey, senderPublicKey]);
  return hkdfSha256(sharedSecret, authSecret, info, 32);
}

function agree(privateKey: Buffer, peerPublicKey: Buffer): Buffer {
  try {
    return p256SharedSecret(privateKey, peerPublicKey);
  } catch (error) {
    throw new DecryptError(`key agreement failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function assertSubscriptionKeys(uaPublicKey: Buffer, authSecret: Buffer): void {
  if (!isP256PublicKey(uaPublicKey)) throw new TypeError('uaPublicKey is not a 65-byte P-256 public key');
  if (authSecret.length !== AUTH_SECRET_LENGTH) throw new TypeError(`authSecret must be ${AUTH_SECRET_LENGTH} bytes`);
}

function stripQuotes(value: string): string {
  const trimmed = value.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
}
