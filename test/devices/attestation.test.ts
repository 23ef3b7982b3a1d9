/**
 * The attestation gate (issue 13 item 5, docs/devices.md), configured as Firebase App Check with a
 * local JWKS server standing in for Google's: every hello and every enrollment call must carry a
 * good short-lived JWT; an expired one, one for another audience, one signed by another key, one
 * for another app, or none at all get exactly the same answer, and only the metrics say why.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { AttestationGate, type AttestationReason } from '../../src/devices/attestation.js';
import { DeviceCa } from '../../src/devices/ca.js';
import { createEnrollmentCode } from '../../src/devices/enrollment.js';
import { ensureDevCertificate } from '../../src/server/dev-tls.js';
import { openStore } from '../../src/store/open/open-store.js';
import type { Store } from '../../src/store/types.js';
import { RawDevice, startHerald, type Running } from '../helpers/herald.js';
import { newCsr, post } from '../helpers/enroll.js';

const PROJECT = '123456789012';
const APP_ID = `1:${PROJECT}:android:0123456789abcdef`;
const folders: string[] = [];
const folder = (prefix: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
};

let jwks: Server;
let jwksHits = 0;
let signingKey: JoseKey;
let strangerKey: JoseKey;
let herald: Running;
let store: Store;
let serverCa: string;
let clock = Date.now();

interface Claims {
  iss?: string;
  aud?: string[];
  sub?: string;
  iatOffset?: number;
  expOffset?: number;
  key?: JoseKey;
}

/** A token as Firebase App Check makes them (RS256, kid, aud of project number and id), changed by `claims`. */
async function appCheckToken(claims: Claims = {}): Promise<string> {
  const now = Math.floor(clock / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'app-check-1', typ: 'JWT' })
    .setIssuer(claims.iss ?? `https://firebaseappcheck.googleapis.com/${PROJECT}`)
    .setAudience(claims.aud ?? [`projects/${PROJECT}`, 'projects/example-project'])
    .setSubject(claims.sub ?? APP_ID)
    .setIssuedAt(now + (claims.iatOffset ?? 0))
    .setExpirationTime(now + (claims.expOffset ?? 3600))
    .sign(claims.key ?? signingKey);
}

const BAD: Record<string, () => Promise<string | undefined>> = {
  expired: () => appCheckToken({ iatOffset: -7200, expOffset: -3600 }),
  'wrong audience': () => appCheckToken({ aud: ['projects/999'] }),
  'wrong key': () => appCheckToken({ key: strangerKey }),
  'wrong app id': () => appCheckToken({ sub: `1:${PROJECT}:ios:ffff` }),
  'wrong issuer': () => appCheckToken({ iss: 'https://attacker.example' }),
  missing: async () => undefined,
};

async function helloWith(attestation: string | undefined): Promise<{ frame: unknown; close: { code: number; reason: string } | null }> {
  const device = await RawDevice.connect(herald.wsUrl, ['push-notification'], { ca: serverCa });
  device.send({ messageType: 'hello', use_webpush: true, ...(attestation !== undefined ? { attestation } : {}) });
  const frame = await device.next('hello');
  if (frame.status === 200) {
    device.close();
    return { frame, close: null };
  }
  return { frame, close: await device.closed };
}

before(async () => {
  const keys = await generateKeyPair('RS256');
  signingKey = keys.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'app-check-1', alg: 'RS256', use: 'sig' };
  jwks = createServer((_request, response) => {
    jwksHits += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/v1/jwks`;

  const made = await ensureDevCertificate(folder('herald-attest-server-'));
  serverCa = readFileSync(made.certFile, 'utf8');
  const dataDir = folder('herald-attest-data-');
  await DeviceCa.init(dataDir);
  store = await openStore(`sqlite:${path.join(dataDir, 'herald.db')}`);
  herald = await startHerald(
    {
      tls: { cert: made.certFile, key: made.keyFile, clientCertificates: { devices: 'request' } },
      devices: { enrollment: true, attestation: { listeners: ['devices'], verifier: 'firebase-app-check', projectNumber: PROJECT, jwksUrl, appIds: [APP_ID] } },
    },
    dataDir,
    { now: () => clock },
  );
});

after(async () => {
  await herald.stop({ keepData: true });
  await store.close();
  await new Promise((resolve) => jwks.close(resolve));
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('the attestation gate on the device listener (Firebase App Check, local JWKS)', () => {
  it('a hello with a good App Check token is answered 200; the keys are fetched once and cached', async () => {
    for (let i = 0; i < 3; i += 1) {
      const answer = await helloWith(await appCheckToken());
      assert.equal((answer.frame as { status: number }).status, 200);
    }
    assert.equal(jwksHits, 1);
  });

  it('expired, wrong audience, wrong key, wrong app id, wrong issuer, missing: the same hello answer and close', async () => {
    const answers = [];
    for (const make of Object.values(BAD)) answers.push(await helloWith(await make()));
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.deepEqual(answers[0]?.frame, { messageType: 'hello', status: 401, error: 'attestation refused' });
    assert.equal(answers[0]?.close?.code, 1011);
    const counted = await herald.herald.metrics.attestationRefused.get();
    const byReason = Object.fromEntries(counted.values.map((value) => [value.labels.reason, value.value]));
    for (const reason of ['expired', 'wrong audience', 'wrong key or signature', 'wrong app', 'wrong issuer', 'missing']) assert.ok((byReason[reason] ?? 0) >= 1, `${reason} counted`);
  });

  it('an HS256 shared-secret gate reports each reason (for herald_attestation_refused_total{reason})', async () => {
    const reasons: AttestationReason[] = [];
    const gate = new AttestationGate(
      {
        listeners: ['devices'], verifier: 'secret', secret: 's'.repeat(32), issuer: 'https://attest.example', audience: 'herald',
        jwksUrl: null, jwksCacheSeconds: 600, projectNumber: null, appClaim: 'sub', appIds: ['app-1'], maxLifetimeSeconds: 3600,
      },
      { now: () => clock, refused: (reason) => reasons.push(reason) },
    );
    const secret = new TextEncoder().encode('s'.repeat(32));
    const now = Math.floor(clock / 1000);
    const hs = (claims: { aud?: string; sub?: string; exp?: number; iat?: number }, key = secret) =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://attest.example').setAudience(claims.aud ?? 'herald')
        .setSubject(claims.sub ?? 'app-1').setIssuedAt(claims.iat ?? now).setExpirationTime(claims.exp ?? now + 300).sign(key);
    assert.deepEqual(await gate.check(await hs({})), { ok: true, appId: 'app-1' });
    await gate.check(await hs({ exp: now - 600, iat: now - 900 }));
    await gate.check(await hs({ aud: 'other' }));
    await gate.check(await hs({}, new TextEncoder().encode('t'.repeat(32))));
    await gate.check(await hs({ sub: 'app-2' }));
    await gate.check(await hs({ exp: now + 7200 }));
    assert.deepEqual(reasons, ['expired', 'wrong audience', 'wrong key or signature', 'wrong app', 'too long lived']);
  });

  it('enrollment needs a good attestation too: every failure is 403 errno 33 with the same body', async () => {
    const code = async () => (await createEnrollmentCode(store, { app: 'com.example.app', now: clock })).code;
    const good = await post(herald.origin, '/v1/devices/enroll', { code: await code(), app: 'com.example.app', csr: await newCsr(), attestation: await appCheckToken() }, { ca: serverCa });
    assert.equal(good.status, 200);
    const bodies = [];
    for (const make of Object.values(BAD)) {
      const attestation = await make();
      const answer = await post(herald.origin, '/v1/devices/enroll', { code: await code(), app: 'com.example.app', csr: await newCsr(), ...(attestation ? { attestation } : {}) }, { ca: serverCa });
      assert.equal(answer.status, 403);
      bodies.push(answer.body);
    }
    for (const body of bodies) assert.equal(body, bodies[0]);
    assert.equal(JSON.parse(bodies[0] as string).errno, 33);
  });
});
