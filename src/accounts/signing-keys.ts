import { createPrivateKey, createPublicKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import { z } from 'zod';
import { generateP256KeyPair } from '../crypto/p256.js';

/**
 * The ES256 keys that sign identity assertions and profile answers, kept in
 * `<dataDir>/accounts-signing-keys.json` (0600). The first key signs. A rotation prepends a new key
 * and marks the previous one retired; a retired key stays published in the JWKS (and accepted by
 * the in-process token server) until every assertion it signed has expired, then the next rotation
 * drops it. Herald re-reads the file when it changes, so a rotation needs no restart.
 */
export const SIGNING_KEYS_FILE = 'accounts-signing-keys.json';

const storedKey = z.object({
  kid: z.string().regex(/^[0-9a-f]{16}$/),
  createdAt: z.number().int(),
  retiredAt: z.number().int().nullable(),
  privateJwk: z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string(), d: z.string() }),
});
const storedFile = z.object({ version: z.literal(1), keys: z.array(storedKey).min(1) });
type StoredKey = z.infer<typeof storedKey>;

export function signingKeysPath(dataDir: string): string {
  return path.join(dataDir, SIGNING_KEYS_FILE);
}

function newKey(now: number): StoredKey {
  // Raw bytes, not generateKeyPairSync + a JWK export, which can deadlock on Node 20 (p256.ts).
  const { publicKey, privateKey } = generateP256KeyPair();
  const [x, y, d] = [publicKey.subarray(1, 33), publicKey.subarray(33), privateKey].map((bytes) => bytes.toString('base64url')) as [string, string, string];
  return { kid: randomBytes(8).toString('hex'), createdAt: now, retiredAt: null, privateJwk: { kty: 'EC', crv: 'P-256', x, y, d } };
}

function readKeys(file: string): StoredKey[] {
  const parsed = storedFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`signing keys file ${file} is malformed`);
  return parsed.data.keys;
}

function writeKeys(file: string, keys: StoredKey[]): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify({ version: 1, keys }, null, 2) + '\n', { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

/** Creates the file with one key when it does not exist yet. */
export function ensureSigningKeys(file: string, now = Date.now()): void {
  if (!existsSync(file)) writeKeys(file, [newKey(now)]);
}

/**
 * Prepends a fresh signing key, retires the current one and drops keys retired longer than
 * `keepRetiredMs` ago (the longest assertion lifetime plus clock skew). Returns the new kid.
 */
export function rotateSigningKey(file: string, keepRetiredMs: number, now = Date.now()): { kid: string; dropped: string[] } {
  ensureSigningKeys(file, now);
  const keys = readKeys(file).map((key) => (key.retiredAt === null ? { ...key, retiredAt: now } : key));
  const kept = keys.filter((key) => key.retiredAt === null || now - key.retiredAt < keepRetiredMs);
  const dropped = keys.filter((key) => !kept.includes(key)).map((key) => key.kid);
  const fresh = newKey(now);
  writeKeys(file, [fresh, ...kept]);
  return { kid: fresh.kid, dropped };
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

export class SigningKeyRing {
  private stamp = '';
  private keys: StoredKey[] = [];
  private signer: SigningKey | undefined;
  private keySet: JSONWebKeySet = { keys: [] };
  private verifier: ReturnType<typeof createLocalJWKSet> | undefined;

  constructor(
    private readonly file: string,
    /** How long a retired key is still published: the assertion lifetime plus clock skew. */
    private readonly publishRetiredForMs: number,
    private readonly now: () => number = Date.now,
  ) {
    ensureSigningKeys(file, now());
    this.reload();
  }

  /** The key that signs now. */
  current(): SigningKey {
    this.reload();
    if (!this.signer) throw new Error('no signing key');
    return this.signer;
  }

  /** Public keys of the current key and of retired keys whose assertions may still be valid. */
  jwks(): JSONWebKeySet {
    this.reload();
    const now = this.now();
    return {
      keys: this.keySet.keys.filter((jwk) => {
        const stored = this.keys.find((key) => key.kid === jwk.kid);
        return stored !== undefined && (stored.retiredAt === null || now - stored.retiredAt < this.publishRetiredForMs);
      }),
    };
  }

  /** A jose key resolver over the published keys, for verifying assertions in-process. */
  verificationKeys(): ReturnType<typeof createLocalJWKSet> {
    const published = this.jwks();
    // createLocalJWKSet copies the set; rebuild only when it changed.
    if (!this.verifier || JSON.stringify(published) !== this.lastPublished) {
      this.lastPublished = JSON.stringify(published);
      this.verifier = createLocalJWKSet(published);
    }
    return this.verifier;
  }
  private lastPublished = '';

  private reload(): void {
    let stamp: string;
    try {
      // A rotation renames a new file into place: the inode changes even within one mtime tick.
      const stat = statSync(this.file);
      stamp = `${stat.ino}:${stat.mtimeMs}`;
    } catch {
      return; // keep the keys already loaded if the file vanished
    }
    if (stamp === this.stamp) return;
    const keys = readKeys(this.file);
    const first = keys[0] as StoredKey;
    this.signer = { kid: first.kid, privateKey: createPrivateKey({ key: first.privateJwk as JsonWebKey, format: 'jwk' }) };
    this.keySet = {
      keys: keys.map((key) => {
        const jwk = createPublicKey({ key: key.privateJwk as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' }) as JWK;
        return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: key.kid, alg: 'ES256', use: 'sig' } as JWK;
      }),
    };
    this.keys = keys;
    this.stamp = stamp;
  }
}
