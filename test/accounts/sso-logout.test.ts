/**
 * The relying-party kit's check of a logout token (docs/sso.md, OpenID Back-Channel Logout 1.0):
 * the accounts server's own token passes once; every claim the spec names, changed, is refused.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, type JWTPayload } from 'jose';
import { signLogoutToken } from '../../src/accounts/sso-backchannel.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/crypto/sso-logout-token.js';
import { ORIGIN, World } from './harness.js';
import { registerApp, relyingParty, type TestApp } from './sso-harness.js';

const SUB = 'ab'.repeat(16);

describe('single sign-on: the relying back end checks logout tokens', () => {
  let world: World;
  let app: TestApp;
  before(async () => {
    world = await World.start();
    app = await registerApp(world, 'app', 'http://app.other.test');
  });
  after(() => world.close());

  const form = (token: string) => new URLSearchParams({ logout_token: token }).toString();
  const errno = (outcome: { status: number; body?: unknown }) => [outcome.status, (outcome.body as { errno?: number } | undefined)?.errno];

  /** A token as the accounts server would sign it, with `change` applied to header and claims. */
  async function token(change: { claims?: JWTPayload; drop?: string[]; typ?: string; key?: KeyObject } = {}): Promise<string> {
    const iat = Math.floor(world.clock / 1000);
    const claims: JWTPayload = { iss: ORIGIN, aud: app.clientId, sub: SUB, sid: 'sid-1', iat, exp: iat + 120, jti: `jti-${Math.random()}`, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, ...change.claims };
    for (const name of change.drop ?? []) delete claims[name];
    const { kid, privateKey } = world.identity.signingKeys.current();
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: change.typ ?? 'logout+jwt' }).sign(change.key ?? privateKey);
  }

  it("the accounts server's logout token passes once, naming who and which sign-in; again it is 400 errno 472", async () => {
    const rp = relyingParty(world, app);
    const signed = await signLogoutToken(world.identity.signingKeys, { issuer: ORIGIN, clientId: app.clientId, accountId: SUB, sid: 'sid-9', nowMs: world.clock });
    assert.deepEqual(await rp.verifyLogout(form(signed)), { status: 200, sub: SUB, sid: 'sid-9' });
    assert.deepEqual(errno(await rp.verifyLogout(form(signed))), [400, 472]);
    assert.deepEqual(errno(await rp.verifyLogout({ logout_token: signed })), [400, 472], 'a parsed body is the same token');
  });

  it('a changed claim is 400 errno 471: signature, iss, aud, typ, stale or future iat, no event, a nonce, no jti, no token', async () => {
    const rp = relyingParty(world, app);
    const { privateKey: stranger } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const iat = Math.floor(world.clock / 1000);
    const cases: Array<[string, string]> = [
      ['signed by another key', await token({ key: stranger })],
      ['another issuer', await token({ claims: { iss: 'http://evil.test' } })],
      ['for another app', await token({ claims: { aud: 'console' } })],
      ['an ID token typ', await token({ typ: 'JWT' })],
      ['issued 10 minutes ago', await token({ claims: { iat: iat - 600, exp: iat + 60 } })],
      ['issued a minute from now', await token({ claims: { iat: iat + 60, exp: iat + 180 } })],
      ['expired half a minute ago', await token({ claims: { iat: iat - 100, exp: iat - 30 } })],
      ['no back-channel event', await token({ claims: { events: { 'http://example.com/other': {} } } })],
      ['the event as a string', await token({ claims: { events: { [BACKCHANNEL_LOGOUT_EVENT]: 'yes' } } })],
      ['a nonce', await token({ claims: { nonce: 'n' } })],
      ['no jti', await token({ drop: ['jti'] })],
      ['no sub', await token({ drop: ['sub'] })],
      ['not a JWT', 'logout'],
    ];
    for (const [why, each] of cases) assert.deepEqual(errno(await rp.verifyLogout(form(each))), [400, 471], why);
    for (const body of [null, '', 'other=1', { logout_token: 7 }]) assert.deepEqual(errno(await rp.verifyLogout(body)), [400, 471], JSON.stringify(body));
    // The control: the same builder, unchanged, passes.
    assert.equal((await rp.verifyLogout(form(await token()))).status, 200);
  });
});
