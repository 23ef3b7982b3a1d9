/**
 * Mutual TLS on the device listener (issue 13 item 2, docs/devices.md), with real TLS on loopback:
 * no certificate, a foreign one and an expired one never connect; a valid one does and binds its
 * device; a certificate revoked in storage is refused at its next connection on every node; a
 * `Client-Cert` header is believed only from a trusted proxy.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeviceCa } from '../../src/devices/ca.js';
import { DeviceCertificates } from '../../src/devices/registry.js';
import { exportPrivateKeyPem, newKeyPair } from '../../src/devices/x509.js';
import { ensureDevCertificate } from '../../src/server/dev-tls.js';
import { openStore } from '../../src/store/open/open-store.js';
import type { Store } from '../../src/store/types.js';
import { CHANNEL_A, RawDevice, startHerald, type Running } from '../helpers/herald.js';

const DAY = 86_400_000;
const folders: string[] = [];
const folder = (prefix: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
};

interface Identity {
  cert: string;
  key: string;
}

async function identity(certificates: DeviceCertificates, deviceId: string, options: { days?: number; now?: number } = {}): Promise<Identity> {
  const keys = await newKeyPair();
  const issued = await certificates.issue({ deviceId, app: 'com.example.app', publicKey: keys.publicKey, ...options });
  return { cert: issued.pem, key: await exportPrivateKeyPem(keys.privateKey) };
}

let serverCa: string;
let serverTls: { cert: string; key: string };
let dataDir: string;
let store: Store;
let certificates: DeviceCertificates;
let valid: Identity;
let other: Identity;
let expired: Identity;
let foreign: Identity;

function tlsConfig(mode: 'request' | 'require') {
  return { tls: { ...serverTls, clientCertificates: { devices: mode }, clientRevocationCacheSeconds: 0 } };
}

function connect(running: Running, who?: Identity): Promise<RawDevice> {
  return RawDevice.connect(running.wsUrl, ['push-notification'], { ca: serverCa, ...(who ? { cert: who.cert, key: who.key } : {}) });
}

function httpsStatus(running: Running, who: Identity): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${running.origin}/__heartbeat__`, { ca: serverCa, cert: who.cert, key: who.key, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

before(async () => {
  const tlsDir = folder('herald-mtls-server-');
  const made = await ensureDevCertificate(tlsDir);
  serverTls = { cert: made.certFile, key: made.keyFile };
  serverCa = readFileSync(made.certFile, 'utf8');
  dataDir = folder('herald-mtls-data-');
  const ca = await DeviceCa.init(dataDir);
  store = await openStore(`sqlite:${path.join(dataDir, 'herald.db')}`);
  certificates = new DeviceCertificates(ca, store);
  valid = await identity(certificates, 'sensor-a');
  other = await identity(certificates, 'sensor-b');
  expired = await identity(certificates, 'sensor-old', { now: Date.now() - 40 * DAY, days: 1 });
  const foreignDir = folder('herald-mtls-foreign-');
  const foreignStore = await openStore('sqlite::memory:');
  foreign = await identity(new DeviceCertificates(await DeviceCa.init(foreignDir), foreignStore), 'sensor-a');
  await foreignStore.close();
});

after(async () => {
  await store.close();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('mutual TLS on the device listener (require)', () => {
  let first: Running;
  let second: Running;
  before(async () => {
    first = await startHerald(tlsConfig('require'), dataDir);
    // A second node on the same storage and CA.
    second = await startHerald(tlsConfig('require'), dataDir);
  });
  after(async () => {
    await first.stop({ keepData: true });
    await second.stop({ keepData: true });
  });

  it('a client without a certificate, with a foreign one, or with an expired one does not connect', async () => {
    await assert.rejects(connect(first));
    await assert.rejects(connect(first, foreign));
    await assert.rejects(connect(first, expired));
  });

  it('a valid certificate connects, and binds its device: another certificate with the same uaid gets a fresh one', async () => {
    const device = await connect(first, valid);
    const uaid = await device.hello();
    await device.register(CHANNEL_A);
    device.close();
    await device.closed;
    assert.equal(await store.getDeviceOwner(uaid), 'cert:sensor-a');

    const thief = await connect(first, other);
    assert.notEqual(await thief.hello(uaid), uaid, 'a stolen uaid without the key gets nothing');
    thief.close();
    const again = await connect(second, valid);
    assert.equal(await again.hello(uaid), uaid, 'the certificate that registered it resumes it, on either node');
    again.close();
  });

  it('a certificate revoked while connected is refused at its next connection, on both nodes', async () => {
    const connected = await connect(first, valid);
    await connected.hello();
    assert.equal(await httpsStatus(first, valid), 200);
    const serial = new X509Certificate(valid.cert).serialNumber;
    assert.equal(await certificates.revoke(serial, 'stolen phone'), true);
    await assert.rejects(connect(first, valid), /403/);
    await assert.rejects(connect(second, valid), /403/);
    const refused = await new Promise<number>((resolve, reject) => {
      const req = request(`${second.origin}/__heartbeat__`, { ca: serverCa, cert: valid.cert, key: valid.key, agent: false }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      req.once('error', reject);
      req.end();
    });
    assert.equal(refused, 403);
    // Others are not affected.
    const fine = await connect(second, other);
    await fine.hello();
    fine.close();
    connected.close();
  });
});

describe('mutual TLS on the device listener (request)', () => {
  it('a device without a certificate connects, but cannot resume a device bound to a certificate', async () => {
    const running = await startHerald(tlsConfig('request'), dataDir);
    try {
      const device = await connect(running, other);
      const bound = await device.hello();
      await device.register(CHANNEL_A);
      device.close();
      const anonymous = await connect(running);
      const fresh = await anonymous.hello(bound);
      assert.notEqual(fresh, bound);
      anonymous.close();
      await assert.rejects(connect(running, foreign));
    } finally {
      await running.stop({ keepData: true });
    }
  });
});

describe('Client-Cert (RFC 9440) behind a TLS-terminating proxy', () => {
  const header = (who: Identity) => `:${new X509Certificate(who.cert).raw.toString('base64')}:`;

  it('is ignored from a peer that is not a trusted proxy', async () => {
    const running = await startHerald({ tls: { clientCertificates: { devices: 'require' }, clientCertHeader: true } }, dataDir);
    try {
      const response = await fetch(`${running.origin}/__heartbeat__`, { headers: { 'client-cert': header(other) } });
      assert.equal(response.status, 403);
      assert.equal(((await response.json()) as { errno: number }).errno, 31);
    } finally {
      await running.stop({ keepData: true });
    }
  });

  it('is believed from a trusted proxy, and still checked', async () => {
    const running = await startHerald({ tls: { clientCertificates: { devices: 'require' }, clientCertHeader: true }, guard: { trustedProxies: ['127.0.0.1'] } }, dataDir);
    try {
      assert.equal((await fetch(`${running.origin}/__heartbeat__`, { headers: { 'client-cert': header(other) } })).status, 200);
      assert.equal((await fetch(`${running.origin}/__heartbeat__`, { headers: { 'client-cert': header(foreign) } })).status, 403);
      assert.equal((await fetch(`${running.origin}/__heartbeat__`, { headers: { 'client-cert': header(valid) } })).status, 403, 'revoked above');
      assert.equal((await fetch(`${running.origin}/__heartbeat__`)).status, 403);
    } finally {
      await running.stop({ keepData: true });
    }
  });
});
