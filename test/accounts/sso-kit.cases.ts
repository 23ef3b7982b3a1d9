/**
 * The relying-party kit (src/client/sso.ts) against a real accounts server: every answer a relying
 * back end gives its page, and the same-site frame's refusals.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { sealRecoveryPacket } from '../../src/crypto/sso-packet.js';
import { ORIGIN, World, type IdentityBackend } from './harness.js';
import { browserCookie, injectFetch, payloadFor, registerApp, relyingParty, withKey, type TestApp } from './sso-harness.js';

export function ssoKitCases(backend: IdentityBackend): void {
  describe(`single sign-on, the relying back end (${backend.kind})`, () => {
    let world: World;
    let app: TestApp;
    let other: TestApp;
    let cookie: string;
    before(async () => {
      world = await World.start({}, {}, backend);
      app = await registerApp(world, 'app', 'http://app.other.test');
      other = await registerApp(world, 'console', 'http://console.herald.test');
      cookie = await browserCookie(world, 'kit@example.com');
    });
    after(() => world.close());

    const expectRefusal = (outcome: { status: number; body?: unknown }, status: number, errno: number) =>
      assert.deepEqual([outcome.status, (outcome.body as { errno?: number } | undefined)?.errno], [status, errno]);

    it('the redirect flow signs the browser in: 204 with the signed profile, no password typed', async () => {
      const rp = relyingParty(world, app);
      const start = rp.startRedirect(app.redirectUri);
      const authorize = await world.request('GET', new URL(start.url).pathname + new URL(start.url).search, { headers: { cookie } });
      assert.equal(authorize.status, 302);
      const back = new URL(String(authorize.headers.location)).searchParams;
      const outcome = await rp.finishRedirect({ code: back.get('code'), state: back.get('state') }, start, app.redirectUri);
      assert.equal(outcome.status, 204);
      assert.ok('profile' in outcome && outcome.profile.email === 'kit@example.com');
    });

    it('a state that is not the one kept for this browser is 400 errno 469', async () => {
      const rp = relyingParty(world, app);
      const start = rp.startRedirect(app.redirectUri);
      expectRefusal(await rp.finishRedirect({ code: 'x', state: 'other' }, start, app.redirectUri), 400, 469);
      expectRefusal(await rp.finishRedirect({ code: 'x', state: start.state }, null, app.redirectUri), 400, 469);
    });

    it('a payload opens once: replayed it is 400 errno 464', async () => {
      const rp = relyingParty(world, app);
      const payload = await payloadFor(world, app, cookie);
      assert.equal((await rp.recover({ recoveryPayload: payload })).status, 204);
      expectRefusal(await rp.recover({ recoveryPayload: payload }), 400, 464);
    });

    it('a payload older than 60 s is 400 errno 463', async () => {
      const rp = relyingParty(world, app);
      const payload = await payloadFor(world, app, cookie);
      world.clock += 61_000;
      expectRefusal(await rp.recover({ recoveryPayload: payload }), 400, 463);
    });

    it('a tampered packet is 400 errno 462, whichever byte changed', async () => {
      const rp = relyingParty(world, app);
      const payload = await payloadFor(world, app, cookie);
      const [version, exp, body] = payload.packet.split('.') as [string, string, string];
      const bytes = Buffer.from(body, 'base64url');
      for (const at of [0, 12, bytes.length - 1]) {
        const changed = Buffer.from(bytes);
        changed[at] = (changed[at] as number) ^ 1;
        expectRefusal(await rp.recover({ recoveryPayload: { ...payload, packet: `${version}.${exp}.${changed.toString('base64url')}` } }), 400, 462);
      }
      // A longer life written in clear does not authenticate either.
      expectRefusal(await rp.recover({ recoveryPayload: { ...payload, packet: `${version}.${Number(exp) + 30}.${body}` } }), 400, 462);
    });

    it('a payload sealed for another app is refused: its cipherId is unknown here (461), and under its key for our origin it does not open (462)', async () => {
      const payload = await payloadFor(world, other, cookie);
      expectRefusal(await relyingParty(world, app).recover({ recoveryPayload: payload }), 400, 461);
      // Even a back end that somehow held the other app's key: the AAD names the other origin.
      const holdingBoth = relyingParty(world, app, { keys: { ...app.keys, ...other.keys } });
      expectRefusal(await holdingBoth.recover({ recoveryPayload: payload }), 400, 462);
    });

    it('an unknown cipherId is 400 errno 461; a body that is not a payload is 400 errno 460', async () => {
      const rp = relyingParty(world, app);
      const payload = await payloadFor(world, app, cookie);
      expectRefusal(await rp.recover({ recoveryPayload: { ...payload, cipherId: '0123456789abcdef' } }), 400, 461);
      for (const body of [null, {}, { recoveryPayload: 'x' }, { recoveryPayload: { packet: 1, cipherId: payload.cipherId } }]) {
        expectRefusal(await rp.recover(body), 400, 460);
      }
      expectRefusal(await rp.recover({ recoveryPayload: { ...payload, packet: 'v2.1.AAAA' } }), 400, 460);
    });

    it('a sealed token that is not 64 hex is 400 errno 465', async () => {
      const [cipherId, key] = Object.entries(app.keys)[0] as [string, string];
      const exp = Math.floor(world.clock / 1000) + 30;
      const packet = sealRecoveryPacket(Buffer.from(key, 'base64url'), cipherId, app.origin, 'NOT-A-TOKEN', exp);
      expectRefusal(await relyingParty(world, app).recover({ recoveryPayload: { packet, cipherId } }), 400, 465);
    });

    it('a profile not signed by the accounts server is 401 errno 467', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = world.identity.signingKeys.current().kid;
      const forged = await new SignJWT({ email: 'mallory@example.com', generation: 1, keys_changed_at: 1 })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuer(ORIGIN)
        .setSubject('0'.repeat(32))
        .setIssuedAt(Math.floor(world.clock / 1000))
        .setExpirationTime(Math.floor(world.clock / 1000) + 300)
        .sign(privateKey);
      const rp = relyingParty(world, app, { fetch: injectFetch(world, (path, body) => (path === '/v1/profile' ? forged : body)) });
      expectRefusal(await rp.recover({ recoveryPayload: await payloadFor(world, app, cookie) }), 401, 467);
    });

    it('a session the accounts server no longer knows is 401 errno 466', async () => {
      const payload = await payloadFor(world, app, cookie);
      const account = await world.store.accountByEmail('kit@example.com');
      for (const session of await world.store.listSessions(account?.id as string)) await world.store.deleteSession(session.accountId, session.id);
      expectRefusal(await relyingParty(world, app).recover({ recoveryPayload: payload }), 401, 466);
      cookie = await browserCookie(world, 'kit2@example.com');
    });

    it('an accounts server that cannot be reached is 502 errno 470', async () => {
      const down = (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch;
      const rp = relyingParty(world, app, { fetch: down });
      expectRefusal(await rp.recover({ recoveryPayload: await payloadFor(world, app, cookie) }), 502, 470);
      const failing = relyingParty(world, app, { fetch: (async () => new Response('', { status: 503 })) as typeof fetch });
      expectRefusal(await failing.recover({ recoveryPayload: await payloadFor(world, app, cookie) }), 502, 470);
      const start = rp.startRedirect(app.redirectUri);
      expectRefusal(await rp.finishRedirect({ code: 'x', state: start.state }, start, app.redirectUri), 502, 470);
    });

    it('rotating the key by cipherId keeps everyone signed in: old payloads and new ones both open', async () => {
      const before = await payloadFor(world, app, cookie);
      const rotated = withKey(world, app.clientId, app.keys);
      const after = await payloadFor(world, app, cookie);
      assert.notEqual(after.cipherId, before.cipherId, 'the new key seals from now on');
      const rp = relyingParty(world, app, rotated);
      assert.equal((await rp.recover({ recoveryPayload: before })).status, 204);
      assert.equal((await rp.recover({ recoveryPayload: after })).status, 204);
      app.keys = rotated.keys;
    });

    it('the frame may be framed only by listed origins and mints payloads only for them, only for its own page', async () => {
      const frame = await world.request('GET', '/v1/sso/frame');
      assert.match(String(frame.headers['content-security-policy']), /frame-ancestors http:\/\/app\.other\.test http:\/\/console\.herald\.test$/);
      assert.match(String(frame.body.raw), /data-origins="\[&quot;http:\/\/app.other.test&quot;/);
      const mint = (origin: string, headers: Record<string, string>) => world.request('POST', '/v1/sso/frame/payload', { body: { origin }, headers: { cookie, ...headers } });
      expectRefusal(await mint(other.origin, { 'sec-fetch-site': 'same-site' }), 403, 448);
      expectRefusal(await mint('http://evil.test', { 'sec-fetch-site': 'same-origin' }), 403, 449);
      const minted = await mint(other.origin, { 'sec-fetch-site': 'same-origin' });
      assert.equal(minted.status, 200);
      const outcome = await relyingParty(world, other).recover(minted.body);
      assert.equal(outcome.status, 204);
      const none = await world.request('POST', '/v1/sso/frame/payload', { body: { origin: other.origin }, headers: { 'sec-fetch-site': 'same-origin' } });
      expectRefusal(none, 401, 443);
    });
  });
}
