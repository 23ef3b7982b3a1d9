/**
 * Sealed tokens under a rotating key ring. The first key seals; every listed key opens, so an
 * operator rotates by prepending a key, and drops the old one only once its tokens may die.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './base64.js';
import { hkdfSha256 } from './hkdf.js';
import { pooledRandomBytes } from './random-pool.js';

export interface RingKey {
  /** 0..255, written in clear as the token's first byte so opening needs no trial decryption. */
  id: number;
  /** 32 bytes from a CSPRNG. */
  secret: Buffer;
}

const SECRET_LENGTH = 32;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const CIPHER = 'aes-256-gcm';

export function generateRingKey(id: number): RingKey {
  assertKeyId(id);
  return { id, secret: randomBytes(SECRET_LENGTH) };
}

export class KeyRing {
  readonly keys: readonly RingKey[];
  private readonly subkeys = new Map<number, Buffer>();
  private readonly sealingId: number;

  constructor(keys: readonly RingKey[], purpose: string) {
    const first = keys[0];
    if (!first) throw new Error(`the "${purpose}" key ring has no key`);
    for (const key of keys) {
      assertKeyId(key.id);
      if (!Buffer.isBuffer(key.secret) || key.secret.length !== SECRET_LENGTH) {
        throw new Error(`key ${key.id} of the "${purpose}" key ring must be ${SECRET_LENGTH} bytes`);
      }
      if (this.subkeys.has(key.id)) throw new Error(`the "${purpose}" key ring lists key id ${key.id} twice`);
      // One secret may serve several rings; the per-purpose subkey keeps a token sealed for one
      // purpose (say a message id) from being accepted as another (an endpoint token).
      const info = Buffer.from(`herald token v1 ${purpose}`, 'utf8');
      this.subkeys.set(key.id, hkdfSha256(key.secret, Buffer.alloc(0), info, SECRET_LENGTH));
    }
    this.sealingId = first.id;
    this.keys = Object.freeze(keys.map((key) => Object.freeze({ id: key.id, secret: Buffer.from(key.secret) })));
  }

  seal(plaintext: Uint8Array): string {
    const subkey = this.subkeys.get(this.sealingId);
    if (!subkey) throw new Error('unreachable: the sealing key has no subkey');
    const header = Buffer.from([this.sealingId]);
    // A nonce per seal, never repeated under a key (96 random bits; sealing runs once per message).
    const nonce = pooledRandomBytes(NONCE_LENGTH);
    const cipher = createCipheriv(CIPHER, subkey, nonce, { authTagLength: TAG_LENGTH });
    // The key id is authenticated too, so no byte of the token can change without detection.
    cipher.setAAD(header);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return toBase64Url(Buffer.concat([header, nonce, ciphertext, cipher.getAuthTag()]));
  }

  /** The plaintext, or null for anything that does not authenticate under a listed key. */
  open(token: string): Buffer | null {
    if (typeof token !== 'string') return null;
    const bytes = fromBase64Url(token);
    if (!bytes || bytes.length < 1 + NONCE_LENGTH + TAG_LENGTH) return null;
    const keyId = bytes[0];
    const subkey = keyId === undefined ? undefined : this.subkeys.get(keyId);
    if (!subkey) return null;
    const nonce = bytes.subarray(1, 1 + NONCE_LENGTH);
    const ciphertext = bytes.subarray(1 + NONCE_LENGTH, bytes.length - TAG_LENGTH);
    const tag = bytes.subarray(bytes.length - TAG_LENGTH);
    try {
      const decipher = createDecipheriv(CIPHER, subkey, nonce, { authTagLength: TAG_LENGTH });
      decipher.setAAD(bytes.subarray(0, 1));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      return null;
    }
  }
}

function assertKeyId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 255) throw new Error(`key id ${id} is not an integer in 0..255`);
}
