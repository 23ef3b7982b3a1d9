/** Raw calls to the enrollment routes (test/devices/): a POST over TLS and a fresh CSR. */
import { request } from 'node:https';
import { EC_SIGNING, newKeyPair, x509 } from '../../src/devices/x509.js';

export interface Answer {
  status: number;
  body: string;
}

/** A raw POST to the device listener, optionally with a client certificate. */
export function post(origin: string, route: string, body: unknown, options: { ca: string; cert?: string; key?: string }): Promise<Answer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false, ...options }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.once('error', reject);
    req.end(payload);
  });
}

export async function newCsr(): Promise<string> {
  const keys = await newKeyPair();
  return (await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=x', keys, signingAlgorithm: EC_SIGNING })).toString('pem');
}
