/** Single sign-on's server side (docs/sso.md): the redirect flow's every refusal, on one identity backend. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ORIGIN, World, type IdentityBackend } from './harness.js';
import { authorizeUrl, browserCookie, codeFor, pkce, registerApp, type TestApp } from './sso-harness.js';

export function ssoFlowCases(backend: IdentityBackend): void {
  describe(`single sign-on, the redirect flow (${backend.kind})`, () => {
    let world: World;
    let app: TestApp;
    let other: TestApp;
    let cookie: string;
    before(async () => {
      world = await World.start({}, {}, backend);
      app = await registerApp(world, 'app', 'http://app.other.test');
      other = await registerApp(world, 'console', 'http://console.herald.test');
      cookie = await browserCookie(world, 'flow@example.com');
    });
    after(() => world.close());

    const exchange = (code: string, verifier: string, overrides: Record<string, string> = {}) =>
      world.request('POST', '/v1/sso/token', { body: { client_id: app.clientId, code, code_verifier: verifier, redirect_uri: app.redirectUri, ...overrides } });

    it('a browser signed in at the accounts server is sent back at once with a code and its state, and the code buys a payload once', async () => {
      const { verifier, challenge } = pkce();
      const answer = await world.request('GET', authorizeUrl(app, challenge), { headers: { cookie } });
      assert.equal(answer.status, 302);
      const location = new URL(String(answer.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, app.redirectUri);
      assert.equal(location.searchParams.get('state'), 'st4te');
      const code = location.searchParams.get('code') as string;
      assert.ok(Buffer.from(code, 'base64url').length >= 16, 'at least 128 bits');
      assert.equal(answer.headers['cache-control'], 'no-store');
      assert.ok(!(await world.store.snapshot()).includes(code), 'only the hash of the code is stored');
      const first = await exchange(code, verifier);
      assert.equal(first.status, 200);
      const payload = (first.body as { recoveryPayload: { packet: string; cipherId: string } }).recoveryPayload;
      assert.match(payload.packet, /^v1\.\d+\./);
      assert.ok(Object.hasOwn(app.keys, payload.cipherId));
      const replayed = await exchange(code, verifier);
      assert.equal(replayed.status, 400);
      assert.equal(replayed.body.errno, 444);
    });

    it('the session cookie is HttpOnly and SameSite=Lax, and the login answer carries no token', async () => {
      await world.createAccount('cookie@example.com');
      const answer = await world.request('POST', '/v1/sso/session', { body: { email: 'cookie@example.com', password: 'correct horse battery staple' } });
      assert.equal(answer.status, 200);
      assert.match(String(answer.headers['set-cookie']), /^herald-accounts=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
      assert.equal(answer.body.sessionToken, undefined);
    });

    it('a sign-in posted from another site is refused with 403 errno 448', async () => {
      const bySite = await world.request('POST', '/v1/sso/session', { body: { email: 'flow@example.com', password: 'x' }, headers: { 'sec-fetch-site': 'cross-site' } });
      assert.deepEqual([bySite.status, bySite.body.errno], [403, 448]);
      const byOrigin = await world.request('POST', '/v1/sso/session', { body: { email: 'flow@example.com', password: 'x' }, headers: { origin: 'http://evil.test' } });
      assert.deepEqual([byOrigin.status, byOrigin.body.errno], [403, 448]);
    });

    it('without a session the authorize answer is 401 errno 443, with no redirect', async () => {
      const { challenge } = pkce();
      for (const headers of [{} as Record<string, string>, { cookie: `herald-accounts=${'0'.repeat(64)}` }, { cookie: 'herald-accounts=nothex' }]) {
        const answer = await world.request('GET', authorizeUrl(app, challenge), { headers });
        assert.deepEqual([answer.status, answer.body.errno, answer.headers.location], [401, 443, undefined]);
      }
    });

    it('an unknown client is 400 errno 440 at both ends', async () => {
      const { verifier, challenge } = pkce();
      const authorize = await world.request('GET', authorizeUrl(app, challenge, { client_id: 'nobody' }), { headers: { cookie } });
      assert.deepEqual([authorize.status, authorize.body.errno, authorize.headers.location], [400, 440, undefined]);
      const code = await codeFor(world, app, cookie, challenge);
      const token = await exchange(code, verifier, { client_id: 'nobody' });
      assert.deepEqual([token.status, token.body.errno], [400, 440]);
    });

    it('a redirect_uri that is not exactly the registered one is 400 errno 441, never followed', async () => {
      const { verifier, challenge } = pkce();
      for (const redirect of [`${app.redirectUri}/`, `${app.redirectUri}?x=1`, 'http://evil.test/sso/callback', app.redirectUri.toUpperCase()]) {
        const answer = await world.request('GET', authorizeUrl(app, challenge, { redirect_uri: redirect }), { headers: { cookie } });
        assert.deepEqual([answer.status, answer.body.errno, answer.headers.location], [400, 441, undefined], redirect);
      }
      const code = await codeFor(world, app, cookie, challenge);
      const token = await exchange(code, verifier, { redirect_uri: other.redirectUri });
      assert.deepEqual([token.status, token.body.errno], [400, 441]);
    });

    it('PKCE S256 is required: no challenge, plain, or a malformed challenge is 400 errno 442', async () => {
      const { challenge } = pkce();
      for (const overrides of [{ code_challenge: null } as Record<string, string | null>, { code_challenge_method: 'plain' }, { code_challenge_method: null }, { code_challenge: 'short' }]) {
        const answer = await world.request('GET', authorizeUrl(app, challenge, overrides), { headers: { cookie } });
        assert.deepEqual([answer.status, answer.body.errno], [400, 442], JSON.stringify(overrides));
      }
    });

    it('a wrong verifier is 400 errno 446 and burns the code', async () => {
      const { verifier, challenge } = pkce();
      const code = await codeFor(world, app, cookie, challenge);
      const wrong = await exchange(code, pkce().verifier);
      assert.deepEqual([wrong.status, wrong.body.errno], [400, 446]);
      const right = await exchange(code, verifier);
      assert.deepEqual([right.status, right.body.errno], [400, 444]);
    });

    it('a code used after 60 s is 400 errno 445', async () => {
      const { verifier, challenge } = pkce();
      const code = await codeFor(world, app, cookie, challenge);
      world.clock += 60_000;
      const late = await exchange(code, verifier);
      assert.deepEqual([late.status, late.body.errno], [400, 445]);
    });

    it("a code issued to one app is refused to another (400 errno 444), and an unknown code too", async () => {
      const { verifier, challenge } = pkce();
      const code = await codeFor(world, app, cookie, challenge);
      const stolen = await world.request('POST', '/v1/sso/token', {
        body: { client_id: other.clientId, code, code_verifier: verifier, redirect_uri: other.redirectUri },
      });
      assert.deepEqual([stolen.status, stolen.body.errno], [400, 444]);
      const unknown = await exchange('A'.repeat(43), verifier);
      assert.deepEqual([unknown.status, unknown.body.errno], [400, 444]);
    });

    it('signing out between the redirect and the exchange ends the sign-in (401 errno 421)', async () => {
      const mine = await browserCookie(world, 'leaver@example.com');
      const { verifier, challenge } = pkce();
      const code = await codeFor(world, app, mine, challenge);
      const out = await world.request('DELETE', '/v1/sso/session', { headers: { cookie: mine, origin: ORIGIN } });
      assert.equal(out.status, 204);
      assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
      const answer = await exchange(code, verifier);
      assert.deepEqual([answer.status, answer.body.errno], [401, 421]);
    });

    it('a body with an unknown field is 400 errno 400 naming it', async () => {
      const answer = await world.request('POST', '/v1/sso/token', { body: { client_id: 'app', code: 'x', code_verifier: 'y', redirect_uri: 'z', extra: 1 } });
      assert.deepEqual([answer.status, answer.body.errno], [400, 400]);
      assert.match(String(answer.body.message), /unknown field extra/);
    });
  });
}
