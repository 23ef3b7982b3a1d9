/**
 * Through a running Herald: an imported public key becomes an app whose pushes show in its charts
 * (refusals only when the app's own signature verified), the import's validation, and session
 * kinds: a console session is no accounts bearer token, and an accounts token no console cookie.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateVapidKeyPair, signVapidJwt } from '../../src/crypto/vapid.js';
import { CHANNEL_A, RawDevice, type Running } from '../helpers/herald.js';
import { post, vapidHeader } from '../helpers/sender.js';
import { ConsoleClient, createAccount, PASSWORD, startConsoleHerald } from './harness.js';

const EMAIL = 'charts@example.com';

/** A VAPID JWT the key signed for this Herald: what the import takes as proof of the private key. */
function proofFor(running: Running, keys: { publicKey: string; privateKey: string }, audience = running.origin): string {
  return signVapidJwt({ audience, subject: 'mailto:dev@example.com', expiresAt: Math.floor(Date.now() / 1000) + 600, ...keys });
}

describe('console: imported apps and their charts', () => {
  let running: Running;
  let client: ConsoleClient;
  let device: RawDevice | undefined;
  before(async () => {
    running = await startConsoleHerald();
    await createAccount(running.origin, EMAIL);
    client = new ConsoleClient(running.origin);
    assert.equal((await client.signIn(EMAIL)).status, 200);
  });
  after(async () => {
    device?.close();
    await running?.stop();
  });

  it('an imported key is an app; pushes it signs are counted, forged ones are not', { timeout: 30_000 }, async () => {
    const keys = generateVapidKeyPair();
    const imported = await client.request('POST', '/console/api/apps/import', { name: 'Imported', publicKey: keys.publicKey, proof: proofFor(running, keys) });
    assert.equal(imported.status, 201);
    const app = imported.body.app as { id: string; publicKey: string };
    assert.equal(app.publicKey, keys.publicKey);

    device = await RawDevice.connect(running.wsUrl);
    await device.hello();
    const endpoint = await device.register(CHANNEL_A, keys.publicKey);
    const signed = { authorization: vapidHeader(running.origin, keys) };
    for (let i = 0; i < 3; i++) {
      assert.equal((await post(endpoint, signed)).status, 201);
      // Delivered means acked by the device (two of the three).
      const notification = await device.next('notification');
      if (i < 2) device.ack(notification);
    }
    // Refused after the app's signature verified: counted under it.
    assert.equal((await post(endpoint, { ...signed, TTL: 'soon' })).status, 400);
    // Claims the app's key but is signed by another: refused, and never counted under the app.
    const forger = generateVapidKeyPair();
    const forged = vapidHeader(running.origin, forger).replace(forger.publicKey, keys.publicKey);
    for (let i = 0; i < 5; i++) assert.equal((await post(endpoint, { authorization: forged })).status, 401);

    // The counts reach the store in the next flush (every 5 s).
    let hour: Record<string, unknown> | undefined;
    for (let tries = 0; tries < 40 && !(Number(hour?.accepted) >= 3 && Number(hour?.delivered) >= 2); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const stats = await client.request('GET', `/console/api/apps/${app.id}/stats?range=hours`);
      assert.equal(stats.status, 200);
      const buckets = stats.body.buckets as Array<Record<string, unknown>>;
      assert.equal(buckets.length, 48);
      hour = buckets.at(-1);
    }
    assert.equal(hour?.accepted, 3);
    assert.equal(hour?.delivered, 2, 'the two the device acked');
    assert.equal(hour?.refused, 1, 'only the refusal the app signed');
    assert.equal(typeof hour?.p50Ms, 'number');
    assert.ok(Number(hour?.p99Ms) >= Number(hour?.p50Ms));
    const days = await client.request('GET', `/console/api/apps/${app.id}/stats?range=days`);
    assert.equal((days.body.buckets as Array<{ accepted: number }>).at(-1)?.accepted, 3);
    // A range that does not exist is named, not answered with something else.
    const typo = await client.request('GET', `/console/api/apps/${app.id}/stats?range=weeks`);
    assert.equal(typo.status, 400);
    assert.equal(typo.body.errno, 600);
    assert.match(String(typo.body.message), /range/);
  });

  it('an import that is not a P-256 point is refused with 400 errno 632 saying why, and adds no app', async () => {
    const before = (await client.request('GET', '/console/api/apps')).body.apps as unknown[];
    const point = Buffer.from(generateVapidKeyPair().publicKey, 'base64url');
    const offCurve = Buffer.from(point);
    offCurve[64] = (offCurve[64] ?? 0) ^ 1;
    const compressed = Buffer.concat([Buffer.from([0x02]), point.subarray(1, 33)]);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' });
    const cases: Array<[string, RegExp]> = [
      ['not base64url!', /not base64url/],
      [compressed.toString('base64url'), /33 bytes, not 65/],
      [Buffer.concat([Buffer.from([0x05]), point.subarray(1)]).toString('base64url'), /not an uncompressed point/],
      [offCurve.toString('base64url'), /not on the P-256 curve/],
      [rsa.toString('base64url'), /bytes, not 65/],
    ];
    for (const [publicKey, why] of cases) {
      const answer = await client.request('POST', '/console/api/apps/import', { name: 'Bad', publicKey, proof: 'x' });
      assert.equal(answer.status, 400, publicKey);
      assert.equal(answer.body.errno, 632);
      assert.match(String(answer.body.message), why);
    }
    assert.equal((await client.request('POST', '/console/api/apps/import', { name: 'No key', proof: 'x' })).body.errno, 600);
    assert.equal(((await client.request('GET', '/console/api/apps')).body.apps as unknown[]).length, before.length);
  });

  it('an import without proof of the private key is refused with 400 errno 633: a public key is public, its charts are not', async () => {
    const owner = generateVapidKeyPair();
    const stranger = generateVapidKeyPair();
    const cases: Array<[string, RegExp]> = [
      ['not a jwt', /./],
      [proofFor(running, stranger), /signature/i], // signed by another key
      [proofFor(running, owner, 'https://elsewhere.example'), /aud/i],
    ];
    for (const [proof, why] of cases) {
      const answer = await client.request('POST', '/console/api/apps/import', { name: 'Not mine', publicKey: owner.publicKey, proof });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.errno, 633);
      assert.match(String(answer.body.message), why);
    }
    assert.equal((await client.request('POST', '/console/api/apps/import', { name: 'Mine', publicKey: owner.publicKey, proof: proofFor(running, owner) })).status, 201);
  });

  it("a console session's token is refused by the accounts API, and an accounts token by the console", async () => {
    const consoleToken = client.cookies.get('__Host-herald-console') ?? '';
    assert.match(consoleToken, /^[0-9a-f]{64}$/);
    const asBearer = await fetch(`${running.origin}/v1/account/sessions`, { headers: { authorization: `Bearer ${consoleToken}` } });
    assert.equal(asBearer.status, 401, 'the console cookie is no accounts bearer token');
    assert.equal((await client.request('GET', '/console/api/apps')).status, 200, 'and it still works in the console');

    const login = await fetch(`${running.origin}/v1/account/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
    const { sessionToken } = (await login.json()) as { sessionToken: string };
    assert.equal((await fetch(`${running.origin}/v1/account/sessions`, { headers: { authorization: `Bearer ${sessionToken}` } })).status, 200);
    const planted = new ConsoleClient(running.origin);
    planted.cookies.set('__Host-herald-console', sessionToken);
    const answer = await planted.request('GET', '/console/api/apps');
    assert.equal(answer.status, 401, 'an accounts token is no console session');
    assert.equal(answer.body.errno, 610);
    const listed = (await client.request('GET', '/console/api/sessions')).body.sessions as Array<{ kind: string }>;
    assert.deepEqual([...new Set(listed.map((each) => each.kind))].sort(), ['accounts', 'console'], 'the console lists both kinds of the account');
  });
});
