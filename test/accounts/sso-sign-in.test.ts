/**
 * The sign-in page at /v1/sso/authorize (docs/sso.md): a browser without an accounts session is
 * shown it, only once the request itself checks out; an API client keeps the 401 envelope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { World } from './harness.js';
import { authorizeUrl, pkce, registerApp, type TestApp } from './sso-harness.js';

const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

describe('single sign-on: the sign-in page of the redirect flow', () => {
  let world: World;
  let app: TestApp;
  before(async () => {
    world = await World.start();
    app = await registerApp(world, 'app', 'http://app.other.test');
  });
  after(() => world.close());

  it('a browser without a session gets the page: strict CSP, no inline script, never framed, never cached', async () => {
    const answer = await world.request('GET', authorizeUrl(app, pkce().challenge), { headers: HTML });
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^text\/html/);
    const csp = String(answer.headers['content-security-policy']);
    for (const directive of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'none'"]) assert.ok(csp.includes(directive), directive);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(answer.headers['cache-control'], 'no-store');
    const html = String(answer.body.raw);
    assert.match(html, /<script src="\/v1\/sso\/sign-in\.js" defer><\/script>/);
    assert.doesNotMatch(html.replace(/<script src="[^"]+" defer><\/script>/g, ''), /<script/, 'no other script');
    assert.match(html, /id="app-origin">http:\/\/app\.other\.test</);
    const script = await world.request('GET', '/v1/sso/sign-in.js');
    assert.deepEqual([script.status, String(script.headers['content-type']).split(';')[0]], [200, 'text/javascript']);
    assert.match(String(script.body.raw), /fetch\('\/v1\/sso\/session'/);
  });

  it('a request that does not check out is refused before any page: unknown client 440, another redirect_uri 441, no PKCE 442', async () => {
    const { challenge } = pkce();
    const cases: Array<[Record<string, string | null>, number]> = [
      [{ client_id: 'nobody' }, 440],
      [{ redirect_uri: 'http://evil.test/sso/callback' }, 441],
      [{ code_challenge: null }, 442],
    ];
    for (const [overrides, errno] of cases) {
      const answer = await world.request('GET', authorizeUrl(app, challenge, overrides), { headers: HTML });
      assert.deepEqual([answer.status, answer.body.errno, answer.headers.location], [400, errno, undefined], JSON.stringify(overrides));
    }
  });

  it('the page signs in only through the same-origin session endpoint: a cross-site POST is 403 errno 448', async () => {
    const answer = await world.request('POST', '/v1/sso/session', { body: { email: 'x@example.com', password: 'whatever it is' }, headers: { 'sec-fetch-site': 'cross-site' } });
    assert.deepEqual([answer.status, answer.body.errno], [403, 448]);
  });
});
