/**
 * The relying apps' sealing keys (docs/sso.md), one ring per app, in `<dataDir>/sso-app-keys.json`
 * (0600) beside the assertion signing keys: not in the database, so a dump of it opens nothing,
 * and one app's leaked key exposes that app only. The first key of a ring seals; the relying back
 * end keeps every key it was given, by cipherId, so a rotation signs nobody out. Re-read when the
 * file changes (the admin CLI writes it while Herald runs).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { fromBase64Url, toBase64Url } from '../crypto/base64.js';
import { SSO_KEY_BYTES } from '../crypto/sso-packet.js';

export const SSO_KEYS_FILE = 'sso-app-keys.json';

const storedKey = z.object({ cipherId: z.string().regex(/^[0-9a-f]{16}$/), secret: z.string(), createdAt: z.number().int() }).strict();
const storedFile = z.object({ version: z.literal(1), apps: z.record(z.string(), z.array(storedKey).min(1)) }).strict();
type StoredFile = z.infer<typeof storedFile>;

export interface SsoKey {
  cipherId: string;
  key: Buffer;
}

export function ssoKeysPath(dataDir: string): string {
  return path.join(dataDir, SSO_KEYS_FILE);
}

function readFile(file: string): StoredFile {
  if (!existsSync(file)) return { version: 1, apps: {} };
  const parsed = storedFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`SSO keys file ${file} is malformed`);
  return parsed.data;
}

function writeFile(file: string, body: StoredFile): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(body, null, 2) + '\n', { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

/**
 * Prepends a fresh key to the app's ring (creating it) and returns it, for the operator to hand to
 * the relying back end. `keep` is how many earlier keys stay (they open nothing new once the
 * relying side stopped listing them; they are kept so an undo is possible).
 */
export function addSsoKey(file: string, clientId: string, now = Date.now(), keep = 3): SsoKey {
  const body = readFile(file);
  const fresh = { cipherId: randomBytes(8).toString('hex'), secret: toBase64Url(randomBytes(SSO_KEY_BYTES)), createdAt: now };
  body.apps[clientId] = [fresh, ...(body.apps[clientId] ?? []).slice(0, keep)];
  writeFile(file, body);
  return { cipherId: fresh.cipherId, key: fromBase64Url(fresh.secret) as Buffer };
}

export function removeSsoKeys(file: string, clientId: string): void {
  const body = readFile(file);
  if (!Object.hasOwn(body.apps, clientId)) return;
  delete body.apps[clientId];
  writeFile(file, body);
}

/** The sealing key of each app, as the running server reads it. */
export class SsoKeyFile {
  private stamp = '';
  private sealing = new Map<string, SsoKey>();

  constructor(private readonly file: string) {}

  /** The key that seals for `clientId` now, or null when the app has none. */
  sealingKey(clientId: string): SsoKey | null {
    this.reload();
    return this.sealing.get(clientId) ?? null;
  }

  private reload(): void {
    let stamp: string;
    try {
      const stat = statSync(this.file);
      stamp = `${stat.ino}:${stat.mtimeMs}`;
    } catch {
      stamp = 'absent';
    }
    if (stamp === this.stamp) return;
    const next = new Map<string, SsoKey>();
    for (const [clientId, ring] of Object.entries(readFile(this.file).apps)) {
      const first = ring[0];
      const key = first ? fromBase64Url(first.secret) : null;
      if (first && key && key.length === SSO_KEY_BYTES) next.set(clientId, { cipherId: first.cipherId, key });
    }
    this.sealing = next;
    this.stamp = stamp;
  }
}
