/**
 * RFC 7469 pins: base64 of SHA-256 over the DER SubjectPublicKeyInfo. The SPKI comes from the
 * key object's own export, never from `getPeerCertificate().pubkey`, which for an EC key is the
 * bare point and gives a pin no client computes.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';

export function publicKeyPin(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

export function certificatePin(certificate: X509Certificate): string {
  return publicKeyPin(certificate.publicKey);
}

/** The certificates of a PEM bundle, leaf first (as a TLS server sends them). */
export function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}
