/**
 * A device's side of enrollment (docs/devices.md): it makes its own P-256 key (the key never
 * leaves it), sends a CSR with the one-time code the operator gave it, and keeps the key and the
 * certificate chain it gets back in files only it can read (0600). Renewal sends a CSR of the same
 * key over mutual TLS with the current certificate: Herald pins the key a device enrolled with.
 */
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { EC_KEY, EC_SIGNING, exportPrivateKeyPem, importSigningKey, newKeyPair, x509, type CryptoKeyPair } from '../devices/x509.js';

export interface DeviceCredentials {
  deviceId: string;
  serial: string;
  notAfter: string;
  keyFile: string;
  certFile: string;
}

interface Connection {
  /** Herald's device listener origin, https://… */
  url: string;
  /** Trust for Herald's serving certificate when it is not in the system store (PEM). */
  ca?: string | Buffer;
  /** devices.attestation: a fresh token from the attestation service (App Check, …). */
  attestation?: string;
}

export interface EnrollOptions extends Connection {
  code: string;
  app: string;
  /** Where the private key (PKCS#8 PEM) and the certificate chain (PEM) are written, 0600. */
  keyFile: string;
  certFile: string;
}

/** Herald refused: the envelope's status and errno (403 errno 32: the code is no good). */
export class EnrollmentError extends Error {
  override name = 'EnrollmentError';
  constructor(
    readonly status: number,
    readonly errno: number | null,
    message: string,
  ) {
    super(message);
  }
}

export async function enrollDevice(options: EnrollOptions): Promise<DeviceCredentials> {
  const keys = await newKeyPair();
  const csr = await csrFor(keys);
  const body = { code: options.code, app: options.app, csr, ...(options.attestation ? { attestation: options.attestation } : {}) };
  const answer = await post(options, '/v1/devices/enroll', body);
  writePrivate(options.keyFile, await exportPrivateKeyPem(keys.privateKey));
  writePrivate(options.certFile, answer.chain);
  return { deviceId: answer.deviceId, serial: answer.serial, notAfter: answer.notAfter, keyFile: options.keyFile, certFile: options.certFile };
}

/** A new certificate for the same key, authenticated by the current one; the cert file is replaced. */
export async function renewDevice(options: Connection & { keyFile: string; certFile: string }): Promise<DeviceCredentials> {
  const keyPem = readFileSync(options.keyFile, 'utf8');
  const certPem = readFileSync(options.certFile, 'utf8');
  const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, EC_KEY, true, ['verify']);
  const csr = await csrFor({ publicKey, privateKey: await importSigningKey(keyPem) } as CryptoKeyPair);
  const body = { csr, ...(options.attestation ? { attestation: options.attestation } : {}) };
  const answer = await post({ ...options, clientCert: { cert: certPem, key: keyPem } }, '/v1/devices/renew', body);
  writePrivate(options.certFile, answer.chain);
  return { deviceId: answer.deviceId, serial: answer.serial, notAfter: answer.notAfter, keyFile: options.keyFile, certFile: options.certFile };
}

async function csrFor(keys: CryptoKeyPair): Promise<string> {
  // The subject is a placeholder: Herald names the device itself, never from the CSR.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=herald-device', keys, signingAlgorithm: EC_SIGNING });
  return csr.toString('pem');
}

interface Issued {
  deviceId: string;
  serial: string;
  notAfter: string;
  chain: string;
}

function post(options: Connection & { clientCert?: { cert: string; key: string } }, route: string, body: object): Promise<Issued> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(route, options.url),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
        ...(options.clientCert ?? {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            // An answer that is not JSON is reported by its status below.
          }
          const status = response.statusCode ?? 0;
          if (status === 200 && typeof parsed.chain === 'string' && typeof parsed.deviceId === 'string') resolve(parsed as unknown as Issued);
          else reject(new EnrollmentError(status, typeof parsed.errno === 'number' ? parsed.errno : null, typeof parsed.message === 'string' ? parsed.message : `HTTP ${status}`));
        });
        response.on('error', reject);
      },
    );
    req.once('error', reject);
    req.end(payload);
  });
}

/** Written whole or not at all (a temporary file renamed), readable by this user only. */
function writePrivate(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, file);
}
