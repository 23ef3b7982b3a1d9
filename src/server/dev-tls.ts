/**
 * `herald serve --dev-tls`: a self-signed certificate for localhost, 127.0.0.1 and ::1, made once
 * into the data folder and reused, so local tests can speak HTTPS/WSS. Browsers and senders will
 * not trust it unless told to: it is for development only.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface DevCertificate {
  certFile: string;
  keyFile: string;
  /** True when this call made a new one. */
  created: boolean;
}

const DAYS_VALID = 365;

export async function ensureDevCertificate(dataDir: string): Promise<DevCertificate> {
  const folder = path.join(dataDir, 'dev-tls');
  const certFile = path.join(folder, 'cert.pem');
  const keyFile = path.join(folder, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile) && stillValid(certFile)) return { certFile, keyFile, created: false };

  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + DAYS_VALID * 86_400_000);
  const made = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, made.private, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  writeFileSync(certFile, made.cert, { mode: 0o644 });
  return { certFile, keyFile, created: true };
}

/** A certificate that expires within a day is replaced rather than served expired. */
function stillValid(certFile: string): boolean {
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    return new Date(cert.validTo).getTime() > Date.now() + 86_400_000;
  } catch {
    return false;
  }
}
