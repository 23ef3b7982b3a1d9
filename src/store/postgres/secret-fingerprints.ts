/** The PostgreSQL side of `SecretFingerprintStore` (migration 5): read once at start, written rarely. */
import type pg from 'pg';
import type { RecordedSecretFingerprint, SecretFingerprint } from '../types.js';

interface FingerprintRow {
  purpose: string;
  key_id: number;
  fingerprint: Buffer;
  recorded_at: string;
  sealing_since: string | null;
}

export async function listSecretFingerprints(pool: pg.Pool): Promise<RecordedSecretFingerprint[]> {
  const { rows } = await pool.query<FingerprintRow>('SELECT purpose, key_id, fingerprint, recorded_at, sealing_since FROM secret_fingerprints');
  return rows.map((row) => ({
    purpose: row.purpose,
    keyId: row.key_id,
    fingerprint: row.fingerprint,
    recordedAt: Number(row.recorded_at),
    sealingSince: row.sealing_since === null ? null : Number(row.sealing_since),
  }));
}

/**
 * One transaction. Two nodes starting at once both insert; ON CONFLICT DO NOTHING keeps whichever
 * committed first, and each node compares again with what is then recorded.
 */
export async function recordSecretFingerprints(
  pool: pg.Pool,
  keys: readonly SecretFingerprint[],
  sealing: readonly SecretFingerprint[],
  now: number,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const key of keys) {
      await client.query(
        `INSERT INTO secret_fingerprints (purpose, key_id, fingerprint, recorded_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (purpose, key_id) DO NOTHING`,
        [key.purpose, key.keyId, key.fingerprint, now],
      );
    }
    for (const key of sealing) {
      await client.query(
        `UPDATE secret_fingerprints SET sealing_since = $1
         WHERE purpose = $2 AND key_id = $3 AND fingerprint = $4 AND sealing_since IS NULL`,
        [now, key.purpose, key.keyId, key.fingerprint],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    client.release(true);
    throw error;
  }
  client.release();
}
