/**
 * The operator's side of the sender key blocklist (docs/security.md):
 *
 *   herald keys block <key-or-hash> --reason TEXT   refuse a sender key from now on
 *   herald keys list-blocked                         every revoked or blocked key
 *   herald keys unblock <hash>                       let a key send again (the only way back)
 *
 * They open the configured store directly, so they work with Herald running or stopped; a running
 * node sees the change within push.senderBlocklistCacheSeconds. Every change prints an audit line
 * (JSON on stderr: what, which key hash, why, who, when) for the operator's records.
 */
import { userInfo } from 'node:os';
import { loadConfig, resolvePaths } from '../config/load.js';
import { fromBase64Flexible, toBase64Url } from '../crypto/base64.js';
import { isP256PublicKey, sha256 } from '../crypto/vapid.js';
import { openStore } from '../store/open/open-store.js';
import type { Store } from '../store/types.js';
import { defineCommand, parseCommand, stdout, type Flags, type Out } from './command-line.js';
import { UsageError } from './usage-error.js';

const HASH_LENGTH = 32;
const MAX_REASON_LENGTH = 500;

const STORE_FLAGS = {
  config: { type: 'string', value: 'FILE', help: 'the configuration file (for store.url and dataDir); also HERALD_CONFIG' },
  'data-dir': { type: 'string', value: 'DIR', help: 'the data folder, default ./data' },
} satisfies Flags;
const NOTE = 'Acts on the configured store, Herald running or not; a running node sees it within push.senderBlocklistCacheSeconds.';

const BLOCK = defineCommand({
  name: 'keys block',
  args: '<key-or-hash>',
  count: { min: 1, max: 1 },
  summary: 'Refuses a sender key (VAPID public key, or its SHA-256 as list-blocked prints it) from now on.',
  flags: { ...STORE_FLAGS, reason: { type: 'string', value: 'TEXT', help: `why (required, kept with the entry; at most ${MAX_REASON_LENGTH} characters)` } },
  notes: [NOTE, 'Prints an audit line (JSON) on stderr.'],
});

const LIST_BLOCKED = defineCommand({
  name: 'keys list-blocked',
  summary: 'Lists every revoked or blocked sender key: hash, since when, by whom (operator or revocation), why.',
  flags: STORE_FLAGS,
});

const UNBLOCK = defineCommand({
  name: 'keys unblock',
  args: '<hash>',
  count: { min: 1, max: 1 },
  summary: 'Lets a blocked sender key send again (the only way back; exit code 1 when it was not blocked).',
  flags: { ...STORE_FLAGS, reason: { type: 'string', value: 'TEXT', help: 'why, for the audit line' } },
  notes: [NOTE, 'Prints an audit line (JSON) on stderr.'],
});

function openConfiguredStore(values: { config?: string | undefined; 'data-dir'?: string | undefined }): Promise<Store> {
  const config = loadConfig({
    file: values.config ?? process.env.HERALD_CONFIG,
    env: process.env,
    overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {},
  });
  return openStore(resolvePaths(config).storeUrl);
}

/**
 * A SHA-256 in base64url is 43 characters and starts with '-' one time in 64 (`list-blocked`
 * prints such hashes): an argument of that shape is the hash, never a flag.
 */
function hashesAsArguments(argv: string[]): string[] {
  const isHash = (arg: string) => /^-[A-Za-z0-9_-]{42}$/.test(arg);
  if (!argv.some(isHash) || argv.includes('--')) return argv;
  return [...argv.filter((arg) => !isHash(arg)), '--', ...argv.filter(isHash)];
}

export async function runBlock(argv: string[], out: Out = stdout): Promise<number> {
  const parsed = parseCommand(BLOCK, hashesAsArguments(argv), out);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const keyHash = parseKeyOrHash(positionals[0] as string, true);
  const reason = values.reason?.trim();
  if (!reason) throw new UsageError('needs --reason TEXT (it is kept with the entry)');
  if (reason.length > MAX_REASON_LENGTH) throw new UsageError(`--reason is at most ${MAX_REASON_LENGTH} characters`);
  const store = await openConfiguredStore(values);
  try {
    const added = await store.blockSenderKey({ keyHash, source: 'operator', reason, blockedAt: Date.now() });
    audit(added ? 'sender key blocked' : 'sender key already blocked (entry kept)', keyHash, reason);
    out(`${added ? 'blocked' : 'already blocked'} ${toBase64Url(keyHash)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

export async function runUnblock(argv: string[], out: Out = stdout): Promise<number> {
  const parsed = parseCommand(UNBLOCK, hashesAsArguments(argv), out);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const keyHash = parseKeyOrHash(positionals[0] as string, false);
  const store = await openConfiguredStore(values);
  try {
    const removed = await store.unblockSenderKey(keyHash);
    audit(removed ? 'sender key unblocked' : 'sender key was not blocked', keyHash, values.reason?.trim() ?? null);
    out(`${removed ? 'unblocked' : 'not blocked'} ${toBase64Url(keyHash)}\n`);
    return removed ? 0 : 1;
  } finally {
    await store.close();
  }
}

export async function runListBlocked(argv: string[], out: Out = stdout): Promise<number> {
  const parsed = parseCommand(LIST_BLOCKED, argv, out);
  if (!parsed) return 0;
  const store = await openConfiguredStore(parsed.values);
  try {
    return await listBlocked(store, out);
  } finally {
    await store.close();
  }
}

async function listBlocked(store: Store, out: Out): Promise<number> {
  for (const entry of await store.listBlockedSenderKeys()) {
    const when = new Date(entry.blockedAt).toISOString();
    out(`${toBase64Url(entry.keyHash)}\t${when}\t${entry.source}\t${entry.reason}\n`);
  }
  return 0;
}

/**
 * A VAPID public key (65-byte point, base64url or base64) is hashed; a hash is 32 bytes in
 * base64url (as list-blocked prints it) or 64 hex digits.
 */
export function parseKeyOrHash(text: string, keyAllowed: boolean): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const bytes = fromBase64Flexible(text);
  if (bytes?.length === HASH_LENGTH) return bytes;
  if (keyAllowed && bytes && isP256PublicKey(bytes)) return sha256(bytes);
  throw new UsageError(
    keyAllowed
      ? 'expected a VAPID public key (base64url, 65 bytes) or its SHA-256 (base64url or 64 hex digits)'
      : 'expected a key hash as list-blocked prints it (base64url SHA-256, or 64 hex digits)',
  );
}

function audit(event: string, keyHash: Buffer, reason: string | null): void {
  let by = 'unknown';
  try {
    by = userInfo().username;
  } catch {
    // No passwd entry (containers): the audit line still says what and when.
  }
  process.stderr.write(JSON.stringify({ audit: event, keyHash: toBase64Url(keyHash), reason, by, at: new Date().toISOString() }) + '\n');
}
