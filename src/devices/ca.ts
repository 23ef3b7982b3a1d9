/**
 * Herald's own CA for device certificates (docs/devices.md): a root key that signs only the
 * issuing certificate (and may then be moved offline), and an issuing key that signs device
 * certificates and the CRL (P-256 both, 0600 in `<dataDir>/ca/`). A device certificate is short
 * lived (30 days unless told), for client authentication only, and names its device in the SAN as
 * `urn:herald:device:<id>`; the common name repeats it for people reading it.
 */
import { caFiles, caExists, type CaFiles } from './ca-files.js';
import { randomBytes, X509Certificate as NodeCertificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EC_SIGNING, exportPrivateKeyPem, importSigningKey, newKeyPair, x509, type CryptoKey } from './x509.js';

export const DEVICE_URN_PREFIX = 'urn:herald:device:';
const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const DAY = 86_400_000;
const ROOT_DAYS = 3650;
const ISSUING_DAYS = 730;
/** Certificates are valid from a minute before issue: device clocks are rarely exact. */
const BACKDATE_MS = 60_000;

export class CaError extends Error {
  override name = 'CaError';
}

export interface IssuedCertificate {
  pem: string;
  serial: string;
  deviceId: string;
  notBefore: number;
  notAfter: number;
}

export function isDeviceId(value: string): boolean {
  return DEVICE_ID.test(value);
}

/** A serial as Herald records it: lowercase hex, no leading zeros (node prints them upper case). */
export function normalSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, '');
}

/** The device id a certificate of Herald's CA names in its SAN; null for any other certificate. */
export function deviceIdOf(certificate: NodeCertificate): string | null {
  const names = certificate.subjectAltName?.split(', ') ?? [];
  for (const name of names) {
    if (!name.startsWith(`URI:${DEVICE_URN_PREFIX}`)) continue;
    const id = name.slice(`URI:${DEVICE_URN_PREFIX}`.length);
    if (isDeviceId(id)) return id;
  }
  return null;
}

export { caFiles, readClientTrust, type CaFiles } from './ca-files.js';

export class DeviceCa {
  private constructor(
    readonly files: CaFiles,
    readonly rootPem: string,
    readonly issuingPem: string,
    private readonly issuingKey: CryptoKey,
  ) {}

  static exists(dataDir: string): boolean {
    return caExists(dataDir);
  }

  /** Makes the root and the issuing certificate; refuses when a CA is there already. */
  static async init(dataDir: string, options: { name?: string; now?: number } = {}): Promise<DeviceCa> {
    const files = caFiles(dataDir);
    if (existsSync(files.rootCert) || existsSync(files.issuingCert)) throw new CaError(`a CA exists already in ${files.folder}`);
    const name = options.name ?? 'Herald device CA';
    const now = options.now ?? Date.now();
    const root = await newKeyPair();
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: newSerial(),
      name: `CN=${escapeDn(name)} root`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + ROOT_DAYS * DAY),
      signingAlgorithm: EC_SIGNING,
      keys: root,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(root.publicKey),
      ],
    });
    const issuing = await newKeyPair();
    const issuingCert = await x509.X509CertificateGenerator.create({
      serialNumber: newSerial(),
      subject: `CN=${escapeDn(name)} issuing`,
      issuer: rootCert.subject,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + ISSUING_DAYS * DAY),
      signingAlgorithm: EC_SIGNING,
      publicKey: issuing.publicKey,
      signingKey: root.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(issuing.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(root.publicKey),
      ],
    });
    // Node checks the CRL of every certificate in a client's chain once any CRL is given: the root
    // signs an empty one for the issuing certificate now, valid as long as that certificate is,
    // so the root key is never needed online.
    const rootCrl = await x509.X509CrlGenerator.create({
      issuer: rootCert.subject,
      thisUpdate: new Date(now - BACKDATE_MS),
      nextUpdate: issuingCert.notAfter,
      signingAlgorithm: EC_SIGNING,
      signingKey: root.privateKey,
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(root.publicKey)],
    });
    mkdirSync(files.folder, { recursive: true, mode: 0o700 });
    writeFileSync(files.rootCrl, crlPem(rootCrl), { mode: 0o644, flag: 'wx' });
    writePrivate(files.rootKey, await exportPrivateKeyPem(root.privateKey));
    writePrivate(files.issuingKey, await exportPrivateKeyPem(issuing.privateKey));
    writeFileSync(files.rootCert, rootCert.toString('pem') + '\n', { mode: 0o644, flag: 'wx' });
    writeFileSync(files.issuingCert, issuingCert.toString('pem') + '\n', { mode: 0o644, flag: 'wx' });
    return DeviceCa.load(dataDir);
  }

  /** The CA in the data folder; only the issuing key is read (the root key may be offline). */
  static async load(dataDir: string): Promise<DeviceCa> {
    const files = caFiles(dataDir);
    if (!DeviceCa.exists(dataDir)) throw new CaError(`no CA in ${files.folder}: run \`herald ca init\` first`);
    const key = await importSigningKey(readFileSync(files.issuingKey, 'utf8'));
    return new DeviceCa(files, readFileSync(files.rootCert, 'utf8'), readFileSync(files.issuingCert, 'utf8'), key);
  }

  /** What a TLS server trusts for client certificates: the issuing certificate and the root. */
  get trustPem(): string {
    return `${this.issuingPem.trim()}\n${this.rootPem.trim()}\n`;
  }

  /**
   * A device certificate for `publicKey` (a SPKI DER/PEM, or a CSR whose signature must verify:
   * the requester holds the key). The device id is Herald's choice, never read from the CSR.
   */
  async issue(request: { deviceId: string; csrPem?: string; publicKey?: CryptoKey; days?: number; now?: number }): Promise<IssuedCertificate> {
    const { deviceId } = request;
    if (!isDeviceId(deviceId)) throw new CaError('a device id is 1-64 letters, digits, dots, dashes or underscores');
    const days = request.days ?? 30;
    if (!Number.isInteger(days) || days < 1 || days > 397) throw new CaError('a device certificate lives 1 to 397 days');
    const publicKey = request.publicKey ?? (request.csrPem !== undefined ? await csrPublicKey(request.csrPem) : undefined);
    if (!publicKey) throw new CaError('needs a CSR or a public key');
    const now = request.now ?? Date.now();
    const issuer = new x509.X509Certificate(this.issuingPem);
    const notBefore = now - BACKDATE_MS;
    const notAfter = Math.min(now + days * DAY, issuer.notAfter.getTime());
    const serial = newSerial();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=${deviceId}`,
      issuer: issuer.subject,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      signingAlgorithm: EC_SIGNING,
      publicKey,
      signingKey: this.issuingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `${DEVICE_URN_PREFIX}${deviceId}` }]),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      ],
    });
    return { pem: certificate.toString('pem') + '\n', serial: normalSerial(serial), deviceId, notBefore, notAfter };
  }

  /** A CRL of these revoked serials, signed by the issuing key, valid for `hours`. */
  async crl(revoked: ReadonlyArray<{ serial: string; revokedAt: number }>, now = Date.now(), hours = 24): Promise<string> {
    const issuer = new x509.X509Certificate(this.issuingPem);
    const crl = await x509.X509CrlGenerator.create({
      issuer: issuer.subject,
      thisUpdate: new Date(now),
      nextUpdate: new Date(now + hours * 3_600_000),
      signingAlgorithm: EC_SIGNING,
      signingKey: this.issuingKey,
      entries: revoked.map((entry) => ({ serialNumber: entry.serial, revocationDate: new Date(entry.revokedAt) })),
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey)],
    });
    return crlPem(crl);
  }
}

/** OpenSSL (and so node's TLS) reads only the RFC 7468 label, not the library's "CRL". */
function crlPem(crl: x509.X509Crl): string {
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n';
}

/** The key of a CSR whose self-signature verifies (proof that the requester holds it). */
async function csrPublicKey(pem: string): Promise<CryptoKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    throw new CaError('the CSR does not parse (PEM or DER PKCS#10 expected)');
  }
  if (!(await csr.verify())) throw new CaError('the CSR signature does not verify');
  const key = csr.publicKey;
  if (key.algorithm.name !== 'ECDSA' || (key.algorithm as { namedCurve?: string }).namedCurve !== 'P-256') {
    throw new CaError('device keys are ECDSA P-256');
  }
  return key.export();
}

/** 128 random bits, positive and without a leading zero byte (DER would drop it). */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x10 + ((bytes[0] as number) % 0x70);
  return bytes.toString('hex');
}

function escapeDn(value: string): string {
  return value.replace(/[,+"\\<>;=#]/g, (char) => `\\${char}`);
}

function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
}
