/**
 * PostgreSQL's device certificates and enrollment codes (migration 5), kept beside the main store
 * so that file does not grow: PostgresStore hands each call here, with its pool.
 */
import type pg from 'pg';
import type { DeviceCertificateRecord, DeviceCertificateStore, EnrollmentCode } from '../types.js';

interface CertificateRow {
  serial: string;
  device_id: string;
  app: string | null;
  issued_at: string;
  expires_at: string;
  revoked_at: string | null;
  revocation_reason: string | null;
}

interface CodeRow {
  code_hash: Buffer;
  app: string;
  device_id: string | null;
  created_at: string;
  expires_at: string;
}

const COLUMNS = 'serial, device_id, app, issued_at, expires_at, revoked_at, revocation_reason';

export class PostgresDeviceCertificates implements DeviceCertificateStore {
  constructor(private readonly pool: pg.Pool) {}

  async recordDeviceCertificate(record: Omit<DeviceCertificateRecord, 'revokedAt' | 'revocationReason'>): Promise<void> {
    await this.pool.query('INSERT INTO device_certificates (serial, device_id, app, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      record.serial,
      record.deviceId,
      record.app,
      record.issuedAt,
      record.expiresAt,
    ]);
  }

  async getDeviceCertificate(serial: string): Promise<DeviceCertificateRecord | null> {
    const { rows } = await this.pool.query<CertificateRow>({
      name: 'herald_getDeviceCertificate',
      text: `SELECT ${COLUMNS} FROM device_certificates WHERE serial = $1`,
      values: [serial],
    });
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async revokeDeviceCertificate(serial: string, reason: string, now: number): Promise<boolean> {
    const result = await this.pool.query('UPDATE device_certificates SET revoked_at = $1, revocation_reason = $2 WHERE serial = $3 AND revoked_at IS NULL', [
      now,
      reason,
      serial,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async listDeviceCertificates(): Promise<DeviceCertificateRecord[]> {
    const { rows } = await this.pool.query<CertificateRow>(`SELECT ${COLUMNS} FROM device_certificates ORDER BY issued_at, serial`);
    return rows.map(toRecord);
  }

  async createEnrollmentCode(code: EnrollmentCode): Promise<void> {
    await this.pool.query('INSERT INTO enrollment_codes (code_hash, app, device_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      code.codeHash,
      code.app,
      code.deviceId,
      code.createdAt,
      code.expiresAt,
    ]);
  }

  async consumeEnrollmentCode(codeHash: Buffer, now: number): Promise<EnrollmentCode | null> {
    // DELETE … RETURNING: of two requests racing with one code, only one gets the row.
    const { rows } = await this.pool.query<CodeRow>(
      'DELETE FROM enrollment_codes WHERE code_hash = $1 RETURNING code_hash, app, device_id, created_at, expires_at',
      [codeHash],
    );
    await this.pool.query('DELETE FROM enrollment_codes WHERE expires_at <= $1', [now]);
    const row = rows[0];
    if (!row || Number(row.expires_at) <= now) return null;
    return { codeHash: row.code_hash, app: row.app, deviceId: row.device_id, createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) };
  }
}

function toRecord(row: CertificateRow): DeviceCertificateRecord {
  return {
    serial: row.serial,
    deviceId: row.device_id,
    app: row.app,
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    revocationReason: row.revocation_reason,
  };
}
