/**
 * Enrollment (docs/devices.md): trust on first use, made safe. An operator makes a one-time code
 * (160 bits from the CSPRNG, stored as its SHA-256 only, scoped to an app, at most 15 minutes);
 * a device trades it once, with a CSR, for a certificate. Renewal is by the current certificate,
 * and keeps the key the device enrolled with: a new key needs a new code (or a good attestation).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DeviceCertificateStore } from '../store/types.js';
import { CaError, isDeviceId, type IssuedCertificate } from './ca.js';
import type { DeviceCertificates } from './registry.js';
import { x509, type CryptoKey } from './x509.js';

export const MAX_CODE_MINUTES = 15;
const CODE_BYTES = 20;

/** Why a request was refused; the client is told only "refused", the reason goes to logs and metrics. */
export type EnrollmentRefusal = 'unknown, used or expired code' | 'code of another app' | 'key differs from the enrolled one';

export type EnrollmentOutcome =
  | { ok: true; issued: IssuedCertificate; chainPem: string }
  | { ok: false; refusal: EnrollmentRefusal }
  | { ok: false; invalid: string };

export function hashEnrollmentCode(code: string): Buffer {
  return createHash('sha256').update(code, 'utf8').digest();
}

/** A new code for `app` (and, when given, the device id its certificate will name); stored hashed. */
export async function createEnrollmentCode(
  store: DeviceCertificateStore,
  request: { app: string; deviceId?: string | null; minutes?: number; now?: number },
): Promise<{ code: string; expiresAt: number }> {
  const minutes = request.minutes ?? MAX_CODE_MINUTES;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_CODE_MINUTES) throw new CaError(`an enrollment code lives 1 to ${MAX_CODE_MINUTES} minutes`);
  if (!request.app || request.app.length > 255) throw new CaError('an enrollment code needs an app (1-255 characters)');
  const deviceId = request.deviceId ?? null;
  if (deviceId !== null && !isDeviceId(deviceId)) throw new CaError('a device id is 1-64 letters, digits, dots, dashes or underscores');
  const now = request.now ?? Date.now();
  const code = randomBytes(CODE_BYTES).toString('base64url');
  const expiresAt = now + minutes * 60_000;
  await store.createEnrollmentCode({ codeHash: hashEnrollmentCode(code), app: request.app, deviceId, createdAt: now, expiresAt });
  return { code, expiresAt };
}

/** A CSR in PEM or base64 DER, parsed and its self-signature verified; a message when it is not. */
export async function readCsr(text: unknown): Promise<{ csr: x509.Pkcs10CertificateRequest; key: CryptoKey } | { invalid: string }> {
  if (typeof text !== 'string' || text.length === 0 || text.length > 16_384) return { invalid: 'csr: a PKCS#10 request, PEM or base64 DER' };
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = text.includes('-----BEGIN') ? new x509.Pkcs10CertificateRequest(text) : new x509.Pkcs10CertificateRequest(Buffer.from(text, 'base64'));
  } catch {
    return { invalid: 'csr: does not parse as PKCS#10' };
  }
  const algorithm = csr.publicKey.algorithm as { name: string; namedCurve?: string };
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') return { invalid: 'csr: device keys are ECDSA P-256' };
  if (!(await csr.verify().catch(() => false))) return { invalid: 'csr: its signature does not verify' };
  return { csr, key: await csr.publicKey.export() };
}

export class Enrollment {
  constructor(
    private readonly certificates: DeviceCertificates,
    private readonly store: DeviceCertificateStore,
    private readonly options: { days: number; now: () => number },
  ) {}

  /**
   * Trades a code for a certificate. The CSR is checked first (a malformed one does not burn the
   * code); then the code is taken, atomically, whatever follows: a wrong app burns it too, so a
   * code gets exactly one try.
   */
  async enroll(request: { code: unknown; app: unknown; csr: unknown }): Promise<EnrollmentOutcome> {
    if (typeof request.code !== 'string' || request.code.length === 0 || request.code.length > 256) return { ok: false, invalid: 'code: the enrollment code' };
    if (typeof request.app !== 'string' || request.app.length === 0) return { ok: false, invalid: 'app: the app the code was made for' };
    const csr = await readCsr(request.csr);
    if ('invalid' in csr) return { ok: false, invalid: csr.invalid };
    const now = this.options.now();
    const code = await this.store.consumeEnrollmentCode(hashEnrollmentCode(request.code), now);
    if (!code) return { ok: false, refusal: 'unknown, used or expired code' };
    if (!sameText(code.app, request.app)) return { ok: false, refusal: 'code of another app' };
    // The device never picks its id: one it chose could be another device's, and take its uaid.
    const deviceId = code.deviceId ?? randomBytes(16).toString('hex');
    const issued = await this.certificates.issue({ deviceId, app: code.app, publicKey: csr.key, days: this.options.days, now });
    return { ok: true, issued, chainPem: this.chain(issued) };
  }

  /**
   * A new certificate for the device whose current one (already verified: Herald's CA, valid,
   * not revoked) has `serial` and `publicKeyDer`. The CSR's key must be that key unless
   * `allowNewKey` (a good attestation came with the request).
   */
  async renew(current: { serial: string; publicKeyDer: Buffer }, csrText: unknown, allowNewKey: boolean): Promise<EnrollmentOutcome> {
    const csr = await readCsr(csrText);
    if ('invalid' in csr) return { ok: false, invalid: csr.invalid };
    if (!allowNewKey && !Buffer.from(csr.csr.publicKey.rawData).equals(current.publicKeyDer)) return { ok: false, refusal: 'key differs from the enrolled one' };
    const issued = await this.certificates.renew({ serial: current.serial, publicKey: csr.key, days: this.options.days, now: this.options.now() });
    return { ok: true, issued, chainPem: this.chain(issued) };
  }

  private chain(issued: IssuedCertificate): string {
    return `${issued.pem.trim()}\n${this.certificates.ca.issuingPem.trim()}\n`;
  }
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
