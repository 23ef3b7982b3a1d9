/**
 * Mutual TLS decisions (docs/devices.md): which client certificate a request or socket carries
 * (the TLS peer's, or the RFC 9440 `Client-Cert` header when a trusted proxy terminated TLS), whether
 * Herald's CA issued it and it is neither expired nor revoked, and which device it names. The
 * revocation answer comes from storage, cached briefly, so a revocation on any node reaches every
 * node within tls.clientRevocationCacheSeconds, before any CRL is reloaded.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { DeviceCertificateStore } from '../store/types.js';
import { deviceIdOf, normalSerial } from './ca.js';

export type ClientCertificateMode = 'off' | 'request' | 'require';

/** What a connection may do: refused, or admitted with the device its certificate names (null: none sent). */
export type CertificateVerdict = { ok: true; deviceId: string | null } | { ok: false; reason: string };

export interface ClientCertificateOptions {
  store: DeviceCertificateStore;
  /** The issuing certificate (PEM): the only one that signs device certificates. */
  issuingPem: string;
  /** Believe `Client-Cert` from these peers (guard.trustedProxies); null: never. */
  isTrustedProxy: ((peer: string | undefined) => boolean) | null;
  cacheMs: number;
  now: () => number;
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const MAX_CACHED = 10_000;

export class ClientCertificateChecker {
  private readonly issuing: X509Certificate;
  private readonly revocations = new Map<string, { revoked: boolean; at: number }>();

  constructor(private readonly options: ClientCertificateOptions) {
    this.issuing = new X509Certificate(options.issuingPem);
  }

  /** The certificate the request's connection carries, and whether TLS already verified it. */
  presented(request: IncomingMessage): { certificate: X509Certificate | null; verifiedByTls: boolean } {
    const socket = request.socket as Partial<TLSSocket>;
    if (typeof socket.getPeerCertificate === 'function') {
      const peer = socket.getPeerCertificate();
      if (peer && peer.raw) return { certificate: parse(peer.raw), verifiedByTls: socket.authorized === true };
    }
    const header = request.headers['client-cert'];
    if (typeof header === 'string' && this.options.isTrustedProxy?.(request.socket.remoteAddress)) {
      const match = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(header.trim());
      return { certificate: match ? parse(Buffer.from(match[1] as string, 'base64')) : null, verifiedByTls: false };
    }
    return { certificate: null, verifiedByTls: false };
  }

  /** The verdict for a request (or upgrade) under `mode`; never throws on what the client sent. */
  async check(request: IncomingMessage, mode: ClientCertificateMode): Promise<CertificateVerdict> {
    if (mode === 'off') return { ok: true, deviceId: null };
    const { certificate } = this.presented(request);
    const sent = request.headers['client-cert'] !== undefined || hasPeerCertificate(request);
    if (!certificate) {
      if (sent) return { ok: false, reason: 'a client certificate that does not parse' };
      return mode === 'require' ? { ok: false, reason: 'no client certificate' } : { ok: true, deviceId: null };
    }
    return this.verify(certificate);
  }

  /**
   * Issued by Herald's issuing key, in its validity window, for client authentication, naming a
   * device, recorded and not revoked. TLS checked most of it already for a direct peer; it is
   * checked again here so a proxy's header and a stale CRL get the same rules.
   */
  async verify(certificate: X509Certificate): Promise<CertificateVerdict> {
    const now = this.options.now();
    if (!certificate.checkIssued(this.issuing) || !certificate.verify(this.issuing.publicKey)) return { ok: false, reason: 'not issued by this CA' };
    if (Date.parse(certificate.validFrom) > now || Date.parse(certificate.validTo) <= now) return { ok: false, reason: 'expired or not yet valid' };
    if (!certificate.keyUsage?.includes(CLIENT_AUTH)) return { ok: false, reason: 'not for client authentication' };
    const deviceId = deviceIdOf(certificate);
    if (deviceId === null) return { ok: false, reason: 'names no device' };
    if (await this.isRevoked(normalSerial(certificate.serialNumber), now)) return { ok: false, reason: 'revoked or unknown serial' };
    return { ok: true, deviceId };
  }

  /** An unknown serial counts as revoked: whatever this CA signs, it records first. */
  private async isRevoked(serial: string, now: number): Promise<boolean> {
    const cached = this.revocations.get(serial);
    if (cached && now - cached.at < this.options.cacheMs) return cached.revoked;
    const record = await this.options.store.getDeviceCertificate(serial);
    const revoked = record === null || record.revokedAt !== null;
    if (this.revocations.size >= MAX_CACHED) this.revocations.clear();
    this.revocations.set(serial, { revoked, at: now });
    return revoked;
  }
}

/** The owner a device session is bound to when its certificate names `deviceId`. */
export { ownerOfDevice } from './owner.js';

function hasPeerCertificate(request: IncomingMessage): boolean {
  const socket = request.socket as Partial<TLSSocket>;
  return typeof socket.getPeerCertificate === 'function' && Boolean(socket.getPeerCertificate()?.raw);
}

function parse(der: Buffer): X509Certificate | null {
  try {
    return new X509Certificate(der);
  } catch {
    return null;
  }
}
