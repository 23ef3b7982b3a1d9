import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { fromBase64Flexible, toBase64Url } from '../crypto/base64.js';
import { generateRingKey, type RingKey } from '../crypto/keyring.js';
import { ConfigError } from './load.js';

/**
 * Key rings kept in the data folder (secrets.json, mode 0600). Generated with a CSPRNG on first
 * start. The first key of each ring seals; every listed key opens, so a rotation prepends a key and
 * keeps the old ones: endpoint URLs already handed to senders keep working.
 */
export const SECRET_PURPOSES = ['endpointTokens', 'messageIds', 'tokenServer', 'consoleCsrf'] as const;
export type SecretPurpose = (typeof SECRET_PURPOSES)[number];
export type Secrets = Record<SecretPurpose, RingKey[]>;

const SECRETS_FILE = 'secrets.json';

const storedKey = z.object({ id: z.number().int().min(0).max(255), secret: z.string() }).strict();
const storedSecrets = z
  .object({
    version: z.literal(1),
    endpointTokens: z.array(storedKey).min(1),
    messageIds: z.array(storedKey).min(1),
    // Added after the first release: files written before it lack it and get one at next start.
    tokenServer: z.array(storedKey).min(1).optional(),
    // The web console's CSRF token key (src/console/csrf.ts); added later still, the same way.
    consoleCsrf: z.array(storedKey).min(1).optional(),
  })
  .strict();

export function secretsPath(dataDir: string): string {
  return path.join(dataDir, SECRETS_FILE);
}

/** Reads the secrets, creating the data folder and fresh keys when there are none yet. */
export function loadOrCreateSecrets(dataDir: string): { secrets: Secrets; created: boolean } {
  const file = secretsPath(dataDir);
  if (existsSync(file)) {
    const { secrets, missing } = readSecretsWithGaps(file);
    // A purpose added by a newer Herald gets its key here, without touching the existing rings.
    if (missing.length > 0) writeSecrets(file, secrets);
    return { secrets, created: missing.length > 0 };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secrets = Object.fromEntries(SECRET_PURPOSES.map((purpose) => [purpose, [generateRingKey(1)]])) as Secrets;
  writeSecrets(file, secrets);
  return { secrets, created: true };
}

/** The secrets, with a fresh key generated for each purpose the file does not list yet. */
function readSecretsWithGaps(file: string): { secrets: Secrets; missing: SecretPurpose[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read secrets file ${file}: ${(error as Error).message}`);
  }
  const result = storedSecrets.safeParse(parsed);
  if (!result.success) {
    throw new ConfigError(`secrets file ${file} is malformed: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const missing = SECRET_PURPOSES.filter((purpose) => result.data[purpose] === undefined);
  const toKeys = (purpose: SecretPurpose) =>
    (result.data[purpose] ?? [{ id: 1, secret: toBase64Url(generateRingKey(1).secret) }]).map(({ id, secret }) => {
      const bytes = fromBase64Flexible(secret);
      if (!bytes || bytes.length !== 32) throw new ConfigError(`secrets file ${file}: ${purpose} key ${id} is not 32 bytes of base64url`);
      return { id, secret: bytes };
    });
  const secrets = Object.fromEntries(SECRET_PURPOSES.map((purpose) => [purpose, toKeys(purpose)])) as Secrets;
  return { secrets, missing };
}

/** Written to a temporary file and renamed, so a crash mid-write never leaves a torn secrets file. */
export function writeSecrets(file: string, secrets: Secrets): void {
  const body = {
    version: 1,
    ...Object.fromEntries(SECRET_PURPOSES.map((purpose) => [purpose, secrets[purpose].map(({ id, secret }) => ({ id, secret: toBase64Url(secret) }))])),
  };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(body, null, 2) + '\n', { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

/** Prepends a fresh key to a ring; returns its id. Old keys stay so existing tokens still open. */
export function rotateSecret(dataDir: string, purpose: SecretPurpose): number {
  const file = secretsPath(dataDir);
  const { secrets } = loadOrCreateSecrets(dataDir);
  const ring = secrets[purpose];
  const used = new Set(ring.map((key) => key.id));
  if (used.size >= 256) throw new ConfigError(`${purpose}: all 256 key ids are in use; retire old keys first`);
  let id = ((ring[0]?.id ?? 0) + 1) % 256;
  while (used.has(id)) id = (id + 1) % 256;
  secrets[purpose] = [generateRingKey(id), ...ring];
  writeSecrets(file, secrets);
  return id;
}
