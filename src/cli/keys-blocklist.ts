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
import { parseArgs } from 'node:util';
import { loadConfig, resolvePaths } from '../config/load.js';
import { fromBase64Flexible, toBase64Url } from '../crypto/base64.js';
import { isP256PublicKey, sha256 } from '../crypto/vapid.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/types.js';
import { UsageError } from './usage-error.js';

export const BLOCKLIST_ACTIONS = ['block', 'list-blocked', 'unblock'] as const;

const HASH_LENGTH = 32;
const MAX_REASON_LENGTH = 500;

export async function runBlocklist(action: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, config: { type: 'string' }, reason: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const config = loadConfig({
    file: values.config ?? process.env.HERALD_CONFIG,
    env: process.env,
    overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {},
  });
  const store = await openStore(resolvePaths(config).storeUrl);
  try {
    if (action === 'list-blocked') return await listBlocked(store);
    const [target] = positionals;
    if (target === undefined) throw new UsageError(`keys ${action} expects a ${action === 'block' ? 'sender key or key hash' : 'key hash'}`);
    const keyHash = parseKeyOrHash(target, action === 'block');
    if (action === 'block') {
      const reason = values.reason?.trim();
      if (!reason) throw new UsageError('keys block needs --reason TEXT (it is kept with the entry)');
      if (reason.length > MAX_REASON_LENGTH) throw new UsageError(`--reason is at most ${MAX_REASON_LENGTH} characters`);
      const added = await store.blockSenderKey({ keyHash, source: 'operator', reason, blockedAt: Date.now() });
      audit(added ? 'sender key blocked' : 'sender key already blocked (entry kept)', keyHash, reason);
      process.stdout.write(`${added ? 'blocked' : 'already blocked'} ${toBase64Url(keyHash)}\n`);
      return 0;
    }
    const removed = await store.unblockSenderKey(keyHash);
    audit(removed ? 'sender key unblocked' : 'sender key was not blocked', keyHash, values.reason?.trim() ?? null);
    process.stdout.write(`${removed ? 'unblocked' : 'not blocked'} ${toBase64Url(keyHash)}\n`);
    return removed ? 0 : 1;
  } finally {
    await store.close();
  }
}

async function listBlocked(store: Store): Promise<number> {
  for (const entry of await store.listBlockedSenderKeys()) {
    const when = new Date(entry.blockedAt).toISOString();
    process.stdout.write(`${toBase64Url(entry.keyHash)}\t${when}\t${entry.source}\t${entry.reason}\n`);
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
