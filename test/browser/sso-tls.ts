/**
 * TLS for the single sign-on browser test: a test CA made here, and one server certificate it
 * signs for every loopback name the test maps (accounts.herald.test, console.herald.test,
 * app.other.test, …). Chromium is told to trust it with `--ignore-certificate-errors-spki-list`
 * (the SHA-256 of the certificate's SubjectPublicKeyInfo): it needs no NSS tools or profile
 * database, it trusts exactly this key and nothing else, and the checks that matter to the test
 * (secure context, `__Host-` cookies, Sec-Fetch-Site) behave as on any https origin.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { exportPrivateKeyPem, EC_SIGNING, newKeyPair, x509 } from '../../src/devices/x509.js';

export interface TestTls {
  /** The server certificate then the CA, PEM (what a server sends). */
  cert: string;
  key: string;
  /** The CA alone, for Node clients (`ca`). */
  ca: string;
  /** base64 SHA-256 of the server certificate's SPKI, for `--ignore-certificate-errors-spki-list`. */
  spkiHash: string;
}

const DAY = 86_400_000;

export async function makeTestTls(names: string[]): Promise<TestTls> {
  const now = Date.now();
  const caKeys = await newKeyPair();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Herald SSO test CA',
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + DAY),
    signingAlgorithm: EC_SIGNING,
    keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const serverKeys = await newKeyPair();
  const serverCert = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: `CN=${names[0]}`,
    issuer: caCert.subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + DAY),
    signingAlgorithm: EC_SIGNING,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
    ],
  });
  const serverPem = serverCert.toString('pem');
  const caPem = caCert.toString('pem');
  // The pin is over the DER SPKI (pitfalls.md: not over getPeerCertificate().pubkey).
  const spki = new X509Certificate(serverPem).publicKey.export({ type: 'spki', format: 'der' });
  return {
    cert: `${serverPem}\n${caPem}\n`,
    key: await exportPrivateKeyPem(serverKeys.privateKey),
    ca: caPem,
    spkiHash: createHash('sha256').update(spki).digest('base64'),
  };
}

/**
 * A fetch for the relying back ends' back channel: TLS checked against the test CA, every name
 * resolved to loopback (as the browser's host-resolver rules do), node:https underneath.
 */
export function loopbackFetch(ca: string): typeof fetch {
  return (async (input: URL | string | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = typeof init.body === 'string' ? init.body : undefined;
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    return new Promise<Response>((resolve, reject) => {
      const request = httpsRequest(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          ca,
          ...(init.signal ? { signal: init.signal } : {}),
          lookup: (_host, options, done) => {
            if ((options as { all?: boolean }).all) (done as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
            else done(null, '127.0.0.1', 4);
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
            resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
          });
          response.on('error', reject);
        },
      );
      request.on('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
      request.end(body);
    });
  }) as typeof fetch;
}

/** A port free on loopback now (origins must be known before their servers start). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
