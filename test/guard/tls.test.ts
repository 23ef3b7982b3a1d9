/**
 * Threat 6, traffic in clear: Herald serves HTTPS and WSS itself, swaps its certificate on reload
 * (SIGHUP) without dropping connected devices, and sends HSTS on TLS listeners only.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { ensureDevCertificate } from '../../src/server/dev-tls.js';
import { CHANNEL_A, RawDevice, startHerald, type Running } from '../helpers/herald.js';
import { ServingHerald } from '../helpers/process.js';
const folders: string[] = [];

interface Certificate {
  certFile: string;
  keyFile: string;
  pem: string;
  fingerprint: string;
}

async function newCertificate(): Promise<Certificate> {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-tls-'));
  folders.push(dir);
  const made = await ensureDevCertificate(dir);
  const pem = readFileSync(made.certFile, 'utf8');
  return { certFile: made.certFile, keyFile: made.keyFile, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

/** Puts `next`'s files where `current`'s are (what an operator's certbot renewal does). */
function replaceFiles(current: { certFile: string; keyFile: string }, next: Certificate): void {
  copyFileSync(next.keyFile, current.keyFile);
  copyFileSync(next.certFile, current.certFile);
}

/** The certificate a brand-new TLS handshake is served. */
function servedFingerprint(port: number, ca: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

function https(url: string, method: string, headers: Record<string, string>, ca: string[]): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time (agent: false): it must see the certificate served now.
    const req = request(url, { method, headers, ca, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    req.once('error', reject);
    req.end();
  });
}

after(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('TLS on the listeners', () => {
  let first: Certificate;
  let second: Certificate;
  let live: { certFile: string; keyFile: string };
  let running: Running;
  let plain: Running;
  before(async () => {
    first = await newCertificate();
    second = await newCertificate();
    // Herald reads its own copy of the files, which the test later overwrites.
    const liveDir = mkdtempSync(path.join(tmpdir(), 'herald-tls-live-'));
    folders.push(liveDir);
    live = { certFile: path.join(liveDir, 'cert.pem'), keyFile: path.join(liveDir, 'key.pem') };
    replaceFiles(live, first);
    running = await startHerald({ server: { adminPort: 0, endpointPort: 0 }, tls: { cert: live.certFile, key: live.keyFile } });
    plain = await startHerald({ server: { adminPort: 0 } });
  });
  after(async () => {
    await running.stop();
    await plain.stop();
  });

  it('serves WSS and HTTPS with https endpoints, and HSTS on every TLS listener', async () => {
    assert.match(running.wsUrl, /^wss:\/\//);
    assert.match(running.origin, /^https:\/\//);
    const { connectionPort, endpointPort, adminPort } = running.herald.listeners;
    for (const port of [connectionPort, endpointPort, adminPort]) {
      const answer = await https(`https://127.0.0.1:${port}/__lbheartbeat__`, 'GET', {}, [first.pem]);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000');
    }
  });

  it('sends no HSTS on a plain listener', async () => {
    for (const port of [plain.herald.listeners.connectionPort, plain.herald.listeners.adminPort]) {
      const response = await fetch(`http://127.0.0.1:${port}/__lbheartbeat__`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('strict-transport-security'), null);
    }
  });

  it('a reload serves the new certificate to new connections while a connected device stays and gets its message', async () => {
    // One CA per connection: both test certificates are named localhost, and OpenSSL would try
    // only the first of two same-named issuers.
    const device = await RawDevice.connect(running.wsUrl, ['push-notification'], { ca: [first.pem] });
    await device.hello();
    const endpoint = await device.register(CHANNEL_A);
    assert.equal(await servedFingerprint(running.herald.listeners.connectionPort, [first.pem]), first.fingerprint);

    replaceFiles(live, second);
    running.herald.reloadTls();

    assert.equal(await servedFingerprint(running.herald.listeners.connectionPort, [second.pem]), second.fingerprint);
    assert.equal(await servedFingerprint(running.herald.listeners.endpointPort, [second.pem]), second.fingerprint);
    assert.equal(await servedFingerprint(running.herald.listeners.adminPort as number, [second.pem]), second.fingerprint);
    const answer = await https(endpoint, 'POST', { TTL: '60' }, [second.pem]);
    assert.equal(answer.status, 201);
    const notification = await device.next('notification');
    assert.equal(notification.channelID, CHANNEL_A);
    device.close();
  });

  it('refuses to start with TLS and an http:// public origin', async () => {
    await assert.rejects(
      startHerald({ server: { publicOrigin: 'http://push.example.com' }, tls: { cert: first.certFile, key: first.keyFile } }),
      (error: unknown) => error instanceof ConfigError && /publicOrigin/.test(error.message),
    );
  });
});

describe('herald serve --dev-tls and SIGHUP', () => {
  let herald: ServingHerald | undefined;
  after(() => herald?.stop('SIGKILL'));

  it('makes a development certificate, says so, and reloads the files on SIGHUP without dropping a connected device', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-devtls-'));
    folders.push(dataDir);
    herald = await ServingHerald.start(['--dev-tls', '--port', '0', '--data-dir', dataDir]);
    const listening = await herald.logged((entry) => entry.devices !== undefined);
    const warning = await herald.logged((entry) => /DEVELOPMENT TLS/.test(entry.msg ?? ''), 20_000, 'the development TLS warning');
    assert.equal(warning.level, 40);
    assert.match(String(listening.devices), /^wss:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(String(listening.publicOrigin), /^https:\/\//);

    const made = { certFile: path.join(dataDir, 'dev-tls', 'cert.pem'), keyFile: path.join(dataDir, 'dev-tls', 'key.pem') };
    const original = readFileSync(made.certFile, 'utf8');
    const replacement = await newCertificate();
    const device = await RawDevice.connect(String(listening.devices), ['push-notification'], { ca: [original] });
    await device.hello();
    const endpoint = await device.register(CHANNEL_A);
    const port = Number(new URL(String(listening.devices)).port);

    replaceFiles(made, replacement);
    herald.process.kill('SIGHUP');
    await herald.logged((entry) => entry.msg === 'TLS certificate reloaded', 20_000, 'the reload to be logged');

    assert.equal(await servedFingerprint(port, [replacement.pem]), replacement.fingerprint);
    assert.equal((await https(endpoint, 'POST', { TTL: '60' }, [replacement.pem])).status, 201);
    assert.equal((await device.next('notification')).channelID, CHANNEL_A);
    device.close();

    await herald.stop('SIGTERM');
    herald = undefined;
  });
});
