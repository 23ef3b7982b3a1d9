/**
 * SQLite's device certificates and enrollment codes (migration 5), kept beside the main store so
 * that file does not grow: SqliteStore hands each call here.
 */
import type Database from 'better-sqlite3';
import type { DeviceCertificateRecord, DeviceCertificateStore, EnrollmentCode } from '../types.js';

interface CertificateRow {
  serial: string;
  device_id: string;
  app: string | null;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
  revocation_reason: string | null;
}

interface CodeRow {
  code_hash: Buffer;
  app: string;
  device_id: string | null;
  created_at: number;
  expires_at: number;
}

const COLUMNS = 'serial, device_id, app, issued_at, expires_at, revoked_at, revocation_reason';

function prepare(db: Database.Database) {
  return {
    record: db.prepare<[string, string, string | null, number, number]>(
      'INSERT INTO device_certificates (serial, device_id, app, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    get: db.prepare<[string], CertificateRow>(`SELECT ${COLUMNS} FROM device_certificates WHERE serial = ?`),
    revoke: db.prepare<[number, string, string]>(
      'UPDATE device_certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ? AND revoked_at IS NULL',
    ),
    list: db.prepare<[], CertificateRow>(`SELECT ${COLUMNS} FROM device_certificates ORDER BY issued_at, serial`),
    createCode: db.prepare<[Buffer, string, string | null, number, number]>(
      'INSERT INTO enrollment_codes (code_hash, app, device_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    takeCode: db.prepare<[Buffer], CodeRow>('DELETE FROM enrollment_codes WHERE code_hash = ? RETURNING code_hash, app, device_id, created_at, expires_at'),
    dropExpiredCodes: db.prepare<[number]>('DELETE FROM enrollment_codes WHERE expires_at <= ?'),
  };
}

export class SqliteDeviceCertificates implements DeviceCertificateStore {
  private statements: ReturnType<typeof prepare> | null = null;

  constructor(private readonly db: Database.Database) {}

  async recordDeviceCertificate(record: Omit<DeviceCertificateRecord, 'revokedAt' | 'revocationReason'>): Promise<void> {
    this.prepared().record.run(record.serial, record.deviceId, record.app, record.issuedAt, record.expiresAt);
  }

  async getDeviceCertificate(serial: string): Promise<DeviceCertificateRecord | null> {
    const row = this.prepared().get.get(serial);
    return row ? toRecord(row) : null;
  }

  async revokeDeviceCertificate(serial: string, reason: string, now: number): Promise<boolean> {
    return this.prepared().revoke.run(now, reason, serial).changes > 0;
  }

  async listDeviceCertificates(): Promise<DeviceCertificateRecord[]> {
    return this.prepared().list.all().map(toRecord);
  }

  async createEnrollmentCode(code: EnrollmentCode): Promise<void> {
    this.prepared().createCode.run(code.codeHash, code.app, code.deviceId, code.createdAt, code.expiresAt);
  }

  async consumeEnrollmentCode(codeHash: Buffer, now: number): Promise<EnrollmentCode | null> {
    const statements = this.prepared();
    const row = statements.takeCode.get(codeHash);
    statements.dropExpiredCodes.run(now);
    if (!row || row.expires_at <= now) return null;
    return { codeHash: row.code_hash, app: row.app, deviceId: row.device_id, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  private prepared(): ReturnType<typeof prepare> {
    this.statements ??= prepare(this.db);
    return this.statements;
  }
}

function toRecord(row: CertificateRow): DeviceCertificateRecord {
  return {
    serial: row.serial,
    deviceId: row.device_id,
    app: row.app,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revocationReason: row.revocation_reason,
  };
}
