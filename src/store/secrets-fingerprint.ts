/**
 * Every node of a cluster must hold the same key rings (secrets.json): a node with other secrets
 * cannot open the endpoint tokens the others issued and answers them 404 errno 102, which tells
 * senders to drop the subscription. So the shared database keeps a fingerprint of each key, and a
 * node whose rings do not match refuses to start.
 *
 * A fingerprint is HMAC-SHA-256 keyed by the secret over a fixed label, the ring's name and the key
 * id: it proves two nodes hold the same secret without storing it, and, unlike a plain hash, cannot
 * be checked against guesses without the secret (the secrets are 32 random bytes anyway).
 *
 * What a starting node must agree with (the rules let a rotation roll from node to node):
 * - a key id both the node and the database know must carry the same secret. Two secrets.json made
 *   independently both start at key 1, so this is what catches a node that made its own;
 * - the node must hold the newest key any node has sealed with (per ring): without it, it cannot
 *   open the endpoints that node hands out;
 * - a key the database has never seen is recorded: it is a rotation reaching its first node (or a
 *   key staged to open before it seals). A node that lacks an older key is accepted: that key was
 *   retired, and a retired key is what the operator removed on purpose.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RingKey } from '../crypto/keyring.js';
import type { RecordedSecretFingerprint, SecretFingerprint, SecretFingerprintStore } from './types.js';

const LABEL = 'herald secrets fingerprint v1';

/** The key rings by name (secrets.json's endpointTokens, messageIds, tokenServer); the first key of each seals. */
export type KeyRings = Readonly<Record<string, readonly RingKey[]>>;

/** Why a node refuses to start: its secrets.json is not the cluster's. */
export class SecretsMismatchError extends Error {
  override name = 'SecretsMismatchError';
}

export function secretFingerprint(purpose: string, key: RingKey): Buffer {
  return createHmac('sha256', key.secret).update(`${LABEL}\0${purpose}\0${key.id}`).digest();
}

/**
 * Compares the rings with the database's fingerprints, recording the keys it lacks (on first start,
 * all of them). Throws SecretsMismatchError, naming the data folder and what differs, when they do
 * not match. Safe when several nodes start at once: what one records the others compare against.
 */
export async function checkSecretsFingerprint(
  store: SecretFingerprintStore,
  rings: KeyRings,
  options: { dataDir: string; now: number },
): Promise<void> {
  const ours: SecretFingerprint[] = [];
  const sealing: SecretFingerprint[] = [];
  for (const [purpose, keys] of Object.entries(rings)) {
    keys.forEach((key, at) => {
      const entry = { purpose, keyId: key.id, fingerprint: secretFingerprint(purpose, key) };
      ours.push(entry);
      if (at === 0) sealing.push(entry);
    });
  }
  const refuse = (problem: string) =>
    new SecretsMismatchError(
      `secrets.json in ${options.dataDir} does not match the cluster's (${problem}): ` +
        'copy secrets.json from a running node to every node (one node alone: restore the secrets.json ' +
        'this database was used with; README, "Many nodes")',
    );

  const recorded = await store.listSecretFingerprints();
  const before = disagreement(ours, recorded);
  if (before !== null) throw refuse(before);

  const known = new Map(recorded.map((row) => [slot(row), row]));
  const news = ours.filter((entry) => !known.has(slot(entry)));
  const unmarked = sealing.filter((entry) => known.get(slot(entry))?.sealingSince == null);
  if (news.length === 0 && unmarked.length === 0) return;
  // Later than every recorded sealing time, so the newest sealing key stays the one marked last
  // even when this node's clock is behind the node that marked the previous one.
  const at = recorded.reduce((latest, row) => Math.max(latest, (row.sealingSince ?? 0) + 1), options.now);
  await store.recordSecretFingerprints(news, unmarked, at);
  // Another node may have recorded other secrets between our read and our write.
  const after = disagreement(ours, await store.listSecretFingerprints());
  if (after !== null) throw refuse(after);
}

/** What keeps our keys from being the recorded ones, or null when nothing does. */
function disagreement(ours: readonly SecretFingerprint[], recorded: readonly RecordedSecretFingerprint[]): string | null {
  const mine = new Map(ours.map((entry) => [slot(entry), entry]));
  for (const row of recorded) {
    const entry = mine.get(slot(row));
    if (entry && !sameFingerprint(entry.fingerprint, row.fingerprint)) return `${row.purpose} key ${row.keyId} differs`;
  }
  const purposes = new Set(ours.map((entry) => entry.purpose));
  for (const purpose of purposes) {
    // A ring the database knows nothing of (first start) or only as keys staged to open.
    const newest = newestSealing(recorded.filter((row) => row.purpose === purpose));
    if (newest && !mine.has(slot(newest))) return `${purpose} key ${newest.keyId}, which other nodes seal with, is missing`;
  }
  return null;
}

function newestSealing(rows: readonly RecordedSecretFingerprint[]): RecordedSecretFingerprint | undefined {
  let newest: RecordedSecretFingerprint | undefined;
  for (const row of rows) {
    if (row.sealingSince === null) continue;
    if (!newest || (newest.sealingSince ?? 0) < row.sealingSince) newest = row;
  }
  return newest;
}

function sameFingerprint(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function slot(entry: SecretFingerprint): string {
  return `${entry.purpose}\0${entry.keyId}`;
}
