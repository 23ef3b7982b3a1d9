/**
 * `herald ca` (issue 13 item 1): Herald's own CA makes its keys 0600, issues short-lived clientAuth
 * certificates naming the device in the SAN (for a CSR whose key stays with the device), records
 * every serial in storage, and revokes into a CRL that openssl honours.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run as ca } from '../../src/cli/ca.js';
import { deviceIdOf } from '../../src/devices/ca.js';

let dir: string;
const file = (name: string) => path.join(dir, name);

async function herald(argv: string[]): Promise<string> {
  let text = '';
  assert.equal(await ca([...argv, '--data-dir', dir], (chunk) => (text += chunk)), 0);
  return text;
}

function openssl(args: string[]): { ok: boolean; output: string } {
  try {
    return { ok: true, output: execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

function trustFile(): string {
  const trust = file('trust.pem');
  writeFileSync(trust, readFileSync(file('ca/issuing.pem'), 'utf8') + readFileSync(file('ca/root.pem'), 'utf8'));
  return trust;
}

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'herald-ca-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('herald ca', () => {
  it('init makes a root and an issuing key, 0600, and refuses to make a second CA', async () => {
    await herald(['init', '--name', 'Test CA']);
    for (const key of ['ca/root-key.pem', 'ca/issuing-key.pem']) assert.equal(statSync(file(key)).mode & 0o777, 0o600, key);
    const issuing = new X509Certificate(readFileSync(file('ca/issuing.pem')));
    assert.ok(issuing.ca);
    assert.ok(issuing.verify(new X509Certificate(readFileSync(file('ca/root.pem'))).publicKey));
    await assert.rejects(ca(['init', '--data-dir', dir], () => {}), /a CA exists already/);
  });

  it('issues a 30-day clientAuth certificate for a new key, naming the device in the SAN, recorded in storage', async () => {
    const pem = await herald(['issue', 'sensor-1', '--app', 'com.example.app', '--key-out', file('sensor-1.key')]);
    assert.equal(statSync(file('sensor-1.key')).mode & 0o777, 0o600);
    writeFileSync(file('sensor-1.pem'), pem);
    const certificate = new X509Certificate(pem);
    assert.equal(deviceIdOf(certificate), 'sensor-1');
    assert.equal(certificate.subjectAltName, 'URI:urn:herald:device:sensor-1');
    assert.ok(certificate.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'clientAuth EKU');
    assert.ok(!certificate.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), 'not for servers');
    const days = (Date.parse(certificate.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `${days} days`);
    assert.ok(certificate.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(file('sensor-1.key')))));
    assert.ok(openssl(['verify', '-CAfile', trustFile(), '-purpose', 'sslclient', file('sensor-1.pem')]).ok);
    const listed = JSON.parse(await herald(['list', '--json'])) as Array<{ serial: string; deviceId: string; app: string; revokedAt: number | null }>;
    assert.deepEqual(
      listed.map(({ serial, deviceId, app, revokedAt }) => ({ serial, deviceId, app, revokedAt })),
      [{ serial: certificate.serialNumber.toLowerCase(), deviceId: 'sensor-1', app: 'com.example.app', revokedAt: null }],
    );
  });

  it('for a CSR, certifies the CSR key under the id Herald was given, not the name the CSR asks for', async () => {
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('phone.key'), '-subj', '/CN=someone-else', '-out', file('phone.csr')]);
    const pem = await herald(['issue', 'phone-7', '--csr', file('phone.csr'), '--days', '7']);
    const certificate = new X509Certificate(pem);
    assert.equal(deviceIdOf(certificate), 'phone-7');
    assert.equal(certificate.subject, 'CN=phone-7');
    assert.ok(certificate.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(file('phone.key')))));
    // A CSR whose signature does not match its key is refused.
    const csr = readFileSync(file('phone.csr'), 'utf8').split('\n');
    const body = Buffer.from(csr.slice(1, -2).join(''), 'base64');
    body[body.length - 5] = (body[body.length - 5] as number) ^ 0xff;
    writeFileSync(file('bad.csr'), `-----BEGIN CERTIFICATE REQUEST-----\n${body.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`);
    await assert.rejects(ca(['issue', 'phone-8', '--csr', file('bad.csr'), '--data-dir', dir], () => {}), /CSR/);
  });

  it('renews for the same device with a new serial; revokes into a CRL that openssl honours', async () => {
    const renewed = await herald(['renew', file('sensor-1.pem')]);
    writeFileSync(file('sensor-1b.pem'), renewed);
    const first = new X509Certificate(readFileSync(file('sensor-1.pem')));
    const second = new X509Certificate(renewed);
    assert.equal(deviceIdOf(second), 'sensor-1');
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.ok(second.publicKey.equals(first.publicKey), 'same key without --csr');

    assert.match(await herald(['revoke', first.serialNumber, '--reason', 'lost']), /Revoked/);
    const crl = file('ca/crl.pem');
    const trust = trustFile();
    const revoked = openssl(['verify', '-crl_check', '-CAfile', trust, '-CRLfile', crl, file('sensor-1.pem')]);
    assert.equal(revoked.ok, false);
    assert.match(revoked.output, /certificate revoked/);
    assert.ok(openssl(['verify', '-crl_check', '-CAfile', trust, '-CRLfile', crl, file('sensor-1b.pem')]).ok);
    assert.match(await herald(['list']), /revoked .* \(lost\)/);
    await assert.rejects(ca(['renew', file('sensor-1.pem'), '--data-dir', dir], () => {}), /revoked/);
  });
});
