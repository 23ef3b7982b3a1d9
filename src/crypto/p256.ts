/**
 * Raw P-256 keys as Web Push carries them: 65-byte uncompressed points and 32-byte scalars.
 * Node wants KeyObjects, so the conversions live here, once.
 */
import { createECDH, createPrivateKey, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './base64.js';

export interface P256KeyPair {
  /** 65-byte uncompressed point. */
  publicKey: Buffer;
  /** 32-byte big-endian scalar. */
  privateKey: Buffer;
}

const POINT_LENGTH = 65;
const COORDINATE_LENGTH = 32;
const CACHE_LIMIT = 512;

// Building a KeyObject validates the point, which costs more than the lookup; senders reuse one key
// for many messages, so the endpoint's hot path mostly hits this cache.
const publicKeyCache = new Map<string, KeyObject>();

/**
 * A new P-256 key pair as raw bytes. Made with ECDH rather than generateKeyPairSync + a JWK export:
 * on Node 20 that export can deadlock the process for good (ExportJWK holds the key's mutex while it
 * allocates; a garbage collection then runs the finished key-generation job's destructor, which
 * takes the same mutex). It hung a CI run; `node -e` with the two calls in a loop hangs in seconds.
 */
export function generateP256KeyPair(): P256KeyPair {
  const ecdh = createECDH('prime256v1');
  const publicKey = ecdh.generateKeys();
  // getPrivateKey() drops leading zero bytes; the scalar is always 32 bytes on the wire.
  const scalar = ecdh.getPrivateKey();
  const privateKey = Buffer.alloc(COORDINATE_LENGTH);
  scalar.copy(privateKey, COORDINATE_LENGTH - scalar.length);
  if (publicKey.length !== POINT_LENGTH || scalar.length > COORDINATE_LENGTH) throw new Error('unexpected P-256 key');
  return { publicKey, privateKey };
}

/** A verifying KeyObject for a raw point, or null when the bytes are not a point on P-256. */
export function p256PublicKeyObject(point: Uint8Array): KeyObject | null {
  if (point.length !== POINT_LENGTH || point[0] !== 0x04) return null;
  const cacheKey = Buffer.from(point).toString('base64');
  const cached = publicKeyCache.get(cacheKey);
  if (cached) {
    publicKeyCache.delete(cacheKey);
    publicKeyCache.set(cacheKey, cached);
    return cached;
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: pointToJwk(point), format: 'jwk' });
  } catch {
    return null;
  }
  publicKeyCache.set(cacheKey, keyObject);
  if (publicKeyCache.size > CACHE_LIMIT) {
    const oldest = publicKeyCache.keys().next();
    if (!oldest.done) publicKeyCache.delete(oldest.value);
  }
  return keyObject;
}

export function isP256PublicKey(bytes: Uint8Array): boolean {
  return p256PublicKeyObject(bytes) !== null;
}

/** The uncompressed point for a scalar; throws when the scalar is not a valid P-256 private key. */
export function p256PublicFromPrivate(privateKey: Uint8Array): Buffer {
  if (privateKey.length !== COORDINATE_LENGTH) throw new Error('a P-256 private key is 32 bytes');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(privateKey);
  return ecdh.getPublicKey(null, 'uncompressed');
}

/**
 * A signing KeyObject. Node accepts a JWK whose x/y do not belong to d, which would sign with one
 * key while advertising another, so the pair is checked here.
 */
export function p256PrivateKeyObject(pair: P256KeyPair): KeyObject {
  const derived = p256PublicFromPrivate(pair.privateKey);
  if (derived.length !== pair.publicKey.length || !timingSafeEqual(derived, pair.publicKey)) {
    throw new Error('the P-256 public key does not belong to the private key');
  }
  return createPrivateKey({ key: { ...pointToJwk(derived), d: toBase64Url(pair.privateKey) }, format: 'jwk' });
}

/** ECDH shared secret (the x coordinate, 32 bytes); throws on an invalid peer point. */
export function p256SharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Buffer {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(privateKey);
  return ecdh.computeSecret(peerPublicKey);
}

function pointToJwk(point: Uint8Array): { kty: 'EC'; crv: 'P-256'; x: string; y: string } {
  return {
    kty: 'EC',
    crv: 'P-256',
    x: toBase64Url(point.subarray(1, 1 + COORDINATE_LENGTH)),
    y: toBase64Url(point.subarray(1 + COORDINATE_LENGTH, POINT_LENGTH)),
  };
}
