/** The SQLite side of `SecretFingerprintStore` (migration 5): read once at start, written rarely. */
import type Database from 'better-sqlite3';
import type { RecordedSecretFingerprint, SecretFingerprint } from '../types.js';

interface FingerprintRow {
  purpose: string;
  key_id: number;
  fingerprint: Buffer;
  recorded_at: number;
  sealing_since: number | null;
}

export function listSecretFingerprints(db: Database.Database): RecordedSecretFingerprint[] {
  return db
    .prepare<[], FingerprintRow>('SELECT purpose, key_id, fingerprint, recorded_at, sealing_since FROM secret_fingerprints')
    .all()
    .map((row) => ({ purpose: row.purpose, keyId: row.key_id, fingerprint: row.fingerprint, recordedAt: row.recorded_at, sealingSince: row.sealing_since }));
}

export function recordSecretFingerprints(
  db: Database.Database,
  keys: readonly SecretFingerprint[],
  sealing: readonly SecretFingerprint[],
  now: number,
): void {
  // ON CONFLICT DO NOTHING: the first fingerprint recorded for a key id stays.
  const insert = db.prepare<[string, number, Buffer, number]>(
    `INSERT INTO secret_fingerprints (purpose, key_id, fingerprint, recorded_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (purpose, key_id) DO NOTHING`,
  );
  const markSealing = db.prepare<[number, string, number, Buffer]>(
    `UPDATE secret_fingerprints SET sealing_since = ?
     WHERE purpose = ? AND key_id = ? AND fingerprint = ? AND sealing_since IS NULL`,
  );
  db.transaction(() => {
    for (const key of keys) insert.run(key.purpose, key.keyId, key.fingerprint, now);
    for (const key of sealing) markSealing.run(now, key.purpose, key.keyId, key.fingerprint);
  }).immediate();
}
