/**
 * The CA and storage together: every certificate issued is recorded (so revocation is a row every
 * node reads), and every revocation rewrites the CRL in the CA folder, which a running Herald
 * reloads into its TLS context (docs/devices.md).
 */
import { writeFileSync } from 'node:fs';
import type { DeviceCertificateRecord, DeviceCertificateStore } from '../store/types.js';
import { CaError, DeviceCa, normalSerial, type IssuedCertificate } from './ca.js';
import type { CryptoKey } from './x509.js';

export interface IssueRequest {
  deviceId: string;
  app: string | null;
  csrPem?: string;
  publicKey?: CryptoKey;
  days?: number;
  now?: number;
}

export class DeviceCertificates {
  constructor(
    readonly ca: DeviceCa,
    private readonly store: DeviceCertificateStore,
  ) {}

  async issue(request: IssueRequest): Promise<IssuedCertificate> {
    const { app, ...rest } = request;
    const issued = await this.ca.issue(rest);
    await this.store.recordDeviceCertificate({ serial: issued.serial, deviceId: issued.deviceId, app, issuedAt: request.now ?? Date.now(), expiresAt: issued.notAfter });
    return issued;
  }

  /**
   * A new certificate for the device a current one names: the same device id and app, the key of
   * the CSR (or the same key when none is given). The current one stays valid until it expires.
   */
  async renew(current: { serial: string; publicKey?: CryptoKey; csrPem?: string; days?: number; now?: number }): Promise<IssuedCertificate> {
    const record = await this.store.getDeviceCertificate(normalSerial(current.serial));
    if (!record) throw new CaError(`no certificate with serial ${current.serial} was issued by this CA`);
    if (record.revokedAt !== null) throw new CaError(`certificate ${record.serial} is revoked: issue a new one instead`);
    const { serial: _serial, ...request } = current;
    return this.issue({ ...request, deviceId: record.deviceId, app: record.app });
  }

  /** Revokes the serial and rewrites the CRL; false when it was revoked already. */
  async revoke(serial: string, reason: string, now = Date.now()): Promise<boolean> {
    const normal = normalSerial(serial);
    if (!(await this.store.getDeviceCertificate(normal))) throw new CaError(`no certificate with serial ${serial} was issued by this CA`);
    const revoked = await this.store.revokeDeviceCertificate(normal, reason, now);
    await this.writeCrl(now);
    return revoked;
  }

  list(): Promise<DeviceCertificateRecord[]> {
    return this.store.listDeviceCertificates();
  }

  /** The CRL of every revoked certificate not yet expired, written to the CA folder too. */
  async writeCrl(now = Date.now()): Promise<string> {
    const revoked = (await this.store.listDeviceCertificates())
      .filter((record) => record.revokedAt !== null && record.expiresAt > now)
      .map((record) => ({ serial: record.serial, revokedAt: record.revokedAt as number }));
    const pem = await this.ca.crl(revoked, now);
    writeFileSync(this.ca.files.crl, pem, { mode: 0o644 });
    return pem;
  }
}
