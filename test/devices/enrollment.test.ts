/**
 * Enrollment over real TLS on loopback (issue 13 item 3, docs/devices.md): a device trades a
 * one-time code and a CSR for its certificate; a replayed, unknown, expired or other app's code
 * gets one and the same answer; two devices racing with one code get it once; renewal needs the
 * current certificate and keeps the enrolled key.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run as ca } from '../../src/cli/ca.js';
import { enrollDevice, EnrollmentError, renewDevice } from '../../src/client/enroll.js';
import { DeviceCa } from '../../src/devices/ca.js';
import { createEnrollmentCode } from '../../src/devices/enrollment.js';
import { ensureDevCertificate } from '../../src/server/dev-tls.js';
import { openStore } from '../../src/store/open/open-store.js';
import type { Store } from '../../src/store/types.js';
import { newCsr, post, type Answer } from '../helpers/enroll.js';
import { RawDevice, startHerald, type Running } from '../helpers/herald.js';

const APP = 'com.example.app';
const folders: string[] = [];
const folder = (prefix: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
};

let serverCa: string;
let serverTls: { cert: string; key: string };
let dataDir: string;
let store: Store;
let herald: Running;
let clock = Date.now();

const code = async (options: { deviceId?: string; minutes?: number; app?: string } = {}) =>
  (await createEnrollmentCode(store, { app: options.app ?? APP, deviceId: options.deviceId ?? null, minutes: options.minutes ?? 15, now: clock })).code;

const files = (name: string) => {
  const dir = folder(`herald-enroll-${name}-`);
  return { keyFile: path.join(dir, 'device.key'), certFile: path.join(dir, 'device.pem') };
};

before(async () => {
  const made = await ensureDevCertificate(folder('herald-enroll-server-'));
  serverTls = { cert: made.certFile, key: made.keyFile };
  serverCa = readFileSync(made.certFile, 'utf8');
  dataDir = folder('herald-enroll-data-');
  await DeviceCa.init(dataDir);
  store = await openStore(`sqlite:${path.join(dataDir, 'herald.db')}`);
  herald = await startHerald(
    { tls: { ...serverTls, clientCertificates: { devices: 'request' }, clientRevocationCacheSeconds: 0 }, devices: { enrollment: true } },
    dataDir,
    { now: () => clock },
  );
});

after(async () => {
  await herald.stop({ keepData: true });
  await store.close();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('device enrollment with a one-time code', () => {
  it('a good code gives the device a 30-day clientAuth certificate naming it, and the key stays on the device (0600)', async () => {
    const where = files('good');
    const enrolled = await enrollDevice({ url: herald.origin, ca: serverCa, code: await code({ deviceId: 'sensor-1' }), app: APP, ...where });
    assert.equal(enrolled.deviceId, 'sensor-1');
    assert.equal(statSync(where.keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(where.certFile).mode & 0o777, 0o600);
    const certificate = new X509Certificate(readFileSync(where.certFile));
    assert.match(certificate.subjectAltName ?? '', /URI:urn:herald:device:sensor-1/);
    assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    const days = (Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 86_400_000;
    assert.ok(days > 29.9 && days < 30.1, `lives ${days} days`);
    assert.equal((await store.getDeviceCertificate(enrolled.serial))?.app, APP);

    // The certificate connects and binds its device.
    const device = await RawDevice.connect(herald.wsUrl, ['push-notification'], { ca: serverCa, cert: readFileSync(where.certFile, 'utf8'), key: readFileSync(where.keyFile, 'utf8') });
    await device.hello();
    device.close();
  });

  it('a code without a device id gets a device id Herald picks, never the CSR subject', async () => {
    const enrolled = await enrollDevice({ url: herald.origin, ca: serverCa, code: await code(), app: APP, ...files('random') });
    assert.match(enrolled.deviceId, /^[0-9a-f]{32}$/);
  });

  it('a replayed, unknown, expired or other app\'s code gets one and the same 403 errno 32', async () => {
    const used = await code();
    const first = await post(herald.origin, '/v1/devices/enroll', { code: used, app: APP, csr: await newCsr() }, { ca: serverCa });
    assert.equal(first.status, 200);
    const answers: Answer[] = [];
    answers.push(await post(herald.origin, '/v1/devices/enroll', { code: used, app: APP, csr: await newCsr() }, { ca: serverCa }));
    answers.push(await post(herald.origin, '/v1/devices/enroll', { code: 'A'.repeat(27), app: APP, csr: await newCsr() }, { ca: serverCa }));
    answers.push(await post(herald.origin, '/v1/devices/enroll', { code: await code({ app: 'com.example.other' }), app: APP, csr: await newCsr() }, { ca: serverCa }));
    const expiring = await code({ minutes: 1 });
    clock += 61_000;
    try {
      answers.push(await post(herald.origin, '/v1/devices/enroll', { code: expiring, app: APP, csr: await newCsr() }, { ca: serverCa }));
    } finally {
      clock -= 61_000;
    }
    for (const answer of answers) {
      assert.equal(answer.status, 403);
      assert.equal(answer.body, answers[0]?.body);
    }
    assert.equal(JSON.parse(answers[0]?.body as string).errno, 32);
  });

  it('two devices racing with one code: exactly one gets a certificate', async () => {
    const shared = await code();
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, (_, index) => enrollDevice({ url: herald.origin, ca: serverCa, code: shared, app: APP, ...files(`race-${index}`) })),
    );
    assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
    for (const result of results) {
      if (result.status === 'rejected') assert.ok(result.reason instanceof EnrollmentError && result.reason.status === 403 && result.reason.errno === 32);
    }
  });

  it('a malformed CSR is a 400 and does not burn the code', async () => {
    const kept = await code();
    const bad = await post(herald.origin, '/v1/devices/enroll', { code: kept, app: APP, csr: 'not a csr' }, { ca: serverCa });
    assert.equal(bad.status, 400);
    await enrollDevice({ url: herald.origin, ca: serverCa, code: kept, app: APP, ...files('kept') });
  });

  it('herald ca enroll-code prints a code a device can use once', async () => {
    let printed = '';
    const stderr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      assert.equal(await ca(['enroll-code', '--app', APP, '--device', 'from-cli', '--minutes', '5', '--data-dir', dataDir], (text) => (printed += text)), 0);
    } finally {
      process.stderr.write = stderr;
    }
    const printedCode = printed.trim();
    assert.ok(Buffer.from(printedCode, 'base64url').length >= 16, 'at least 128 bits');
    const enrolled = await enrollDevice({ url: herald.origin, ca: serverCa, code: printedCode, app: APP, ...files('cli') });
    assert.equal(enrolled.deviceId, 'from-cli');
  });
});

describe('renewal by the current certificate', () => {
  it('with the current certificate: a new serial for the same device and key', async () => {
    const where = files('renew');
    const enrolled = await enrollDevice({ url: herald.origin, ca: serverCa, code: await code({ deviceId: 'renewer' }), app: APP, ...where });
    const before = new X509Certificate(readFileSync(where.certFile));
    const renewed = await renewDevice({ url: herald.origin, ca: serverCa, ...where });
    const after = new X509Certificate(readFileSync(where.certFile));
    assert.equal(renewed.deviceId, 'renewer');
    assert.notEqual(renewed.serial, enrolled.serial);
    assert.ok(after.publicKey.equals(before.publicKey));
  });

  it('without a certificate: 403 errno 31; with a CSR of another key: 403 errno 32', async () => {
    const without = await post(herald.origin, '/v1/devices/renew', { csr: await newCsr() }, { ca: serverCa });
    assert.equal(without.status, 403);
    assert.equal(JSON.parse(without.body).errno, 31);

    const where = files('rekey');
    await enrollDevice({ url: herald.origin, ca: serverCa, code: await code(), app: APP, ...where });
    const identity = { cert: readFileSync(where.certFile, 'utf8'), key: readFileSync(where.keyFile, 'utf8') };
    const rekey = await post(herald.origin, '/v1/devices/renew', { csr: await newCsr() }, { ca: serverCa, ...identity });
    assert.equal(rekey.status, 403);
    assert.equal(JSON.parse(rekey.body).errno, 32);
  });

  it('a revoked certificate cannot renew', async () => {
    const where = files('revoked');
    const enrolled = await enrollDevice({ url: herald.origin, ca: serverCa, code: await code(), app: APP, ...where });
    await store.revokeDeviceCertificate(enrolled.serial, 'lost', clock);
    await assert.rejects(renewDevice({ url: herald.origin, ca: serverCa, ...where }), (error: unknown) => error instanceof EnrollmentError && error.errno === 31);
  });
});

describe('guard.enrollmentsPerSource', () => {
  it('past the window, a source gets 429 errno 29 before any code is looked at', async () => {
    const limited = await startHerald(
      {
        tls: { ...serverTls, clientCertificates: { devices: 'request' } },
        devices: { enrollment: true },
        guard: { exemptLoopback: false, enrollmentsPerSource: { points: 2, seconds: 600 } },
      },
      dataDir,
    );
    try {
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await post(limited.origin, '/v1/devices/enroll', { code: 'x', app: APP, csr: await newCsr() }, { ca: serverCa })).status);
      assert.deepEqual(statuses, [403, 403, 429]);
    } finally {
      await limited.stop({ keepData: true });
    }
  });
});
