import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { rotateSigningKey, signingKeysPath } from '../../src/accounts/signing-keys.js';
import { GOOD_PASSWORD, ORIGIN, World } from './harness.js';
import type { IdentityBackend } from './harness.js';

/** The cases, on the identity store `backend` names (SQLite: accounts.test.ts; PostgreSQL: test/accounts/postgres.test.ts). */
export function accountsCases(backend: IdentityBackend): void {
  const startWorld = (...args: Partial<Parameters<typeof World.start>>) => World.start(args[0], args[1], backend);
  describe('accounts: create, log in, sessions', () => {
    let world: World;
    before(async () => {
      world = await startWorld();
    });
    after(() => world.close());

    it('an account is created with a strong password and can log in again', async () => {
      const created = await world.createAccount('Alice@Example.com ');
      assert.match(created.uid, /^[0-9a-f]{32}$/);
      assert.match(created.sessionToken, /^[0-9a-f]{64}$/);
      const login = await world.login('alice@example.com', GOOD_PASSWORD);
      assert.equal(login.status, 200);
      assert.equal(login.body.uid, created.uid);
    });

    it('the session token is stored only as its SHA-256', async () => {
      const { sessionToken } = await world.createAccount('hash-only@example.com');
      assert.equal((await world.store.snapshot()).includes(sessionToken), false);
    });

    it('short, common and email-equal passwords are refused with the reason', async () => {
      const cases: Array<[string, number]> = [
        ['short1!', 402],
        ['password1234', 403],
        ['QWERTYUIOP', 403],
        ['same@example.com', 405],
      ];
      for (const [password, errno] of cases) {
        const answer = await world.request('POST', '/v1/account/create', { body: { email: 'same@example.com', password } });
        assert.equal(answer.status, 400, password);
        assert.equal(answer.body.errno, errno, password);
        assert.equal(typeof answer.body.message, 'string');
      }
    });

    it('a second account with the same email is refused', async () => {
      await world.createAccount('twice@example.com');
      const again = await world.request('POST', '/v1/account/create', { body: { email: 'TWICE@example.com', password: GOOD_PASSWORD } });
      assert.equal(again.status, 409);
    });

    it('every login opens a new session, and sessions are listed and destroyed', async () => {
      const created = await world.createAccount('sessions@example.com');
      const first = await world.login('sessions@example.com', GOOD_PASSWORD);
      const second = await world.login('sessions@example.com', GOOD_PASSWORD);
      assert.notEqual(first.body.sessionToken, second.body.sessionToken);
      assert.notEqual(first.body.sessionId, second.body.sessionId);

      const auth = { authorization: `Bearer ${String(second.body.sessionToken)}` };
      const listed = await world.request('GET', '/v1/account/sessions', { headers: auth });
      const sessions = listed.body.sessions as Array<{ id: string; current: boolean }>;
      assert.deepEqual(sessions.map((s) => s.id).sort(), [created.sessionId, first.body.sessionId, second.body.sessionId].sort());
      assert.equal(sessions.find((s) => s.current)?.id, second.body.sessionId);

      const destroyed = await world.request('DELETE', `/v1/account/sessions/${String(first.body.sessionId)}`, { headers: auth });
      assert.equal(destroyed.status, 204);
      const refused = await world.request('POST', '/v1/assertion', { headers: { authorization: `Bearer ${String(first.body.sessionToken)}` } });
      assert.equal(refused.status, 401);

      const logout = await world.request('POST', '/v1/session/destroy', { headers: auth });
      assert.equal(logout.status, 204);
      const afterLogout = await world.request('GET', '/v1/account/sessions', { headers: auth });
      assert.equal(afterLogout.status, 401);
    });

    it('a session token that is not 64 lowercase hex is refused before any lookup', async () => {
      let lookups = 0;
      const original = world.store.sessionByTokenHash.bind(world.store);
      world.store.sessionByTokenHash = (hash) => {
        lookups += 1;
        return original(hash);
      };
      try {
        for (const token of ['', 'abc', 'A'.repeat(64), 'g'.repeat(64), '0'.repeat(63), '0'.repeat(65), `${'0'.repeat(63)}\u0660`]) {
          const answer = await world.request('POST', '/v1/assertion', { headers: { authorization: `Bearer ${token}` } });
          assert.equal(answer.status, 401);
          assert.equal(answer.body.errno, 421);
        }
        assert.equal(lookups, 0);
        const unknown = await world.request('POST', '/v1/assertion', { headers: { authorization: `Bearer ${'0'.repeat(64)}` } });
        assert.equal(unknown.status, 401);
        assert.equal(lookups, 1);
      } finally {
        world.store.sessionByTokenHash = original;
      }
    });

    it('a password change bumps generation, destroys the other sessions and keeps this one', async () => {
      const created = await world.createAccount('change@example.com');
      const other = await world.login('change@example.com', GOOD_PASSWORD);
      const before = (await world.store.accountById(created.uid))!;
      world.clock += 1000;
      const changed = await world.changePassword(created.sessionToken, GOOD_PASSWORD, 'a brand new passphrase');
      assert.equal(changed.status, 200);
      const after = (await world.store.accountById(created.uid))!;
      assert.ok(after.generation > before.generation);
      assert.ok(after.keysChangedAt > before.keysChangedAt);
      assert.ok(after.keysChangedAt <= after.generation);
      assert.equal(after.lastAuthAt, world.clock);

      const otherSession = await world.request('POST', '/v1/assertion', { headers: { authorization: `Bearer ${String(other.body.sessionToken)}` } });
      assert.equal(otherSession.status, 401);
      const thisSession = await world.request('POST', '/v1/assertion', { headers: { authorization: `Bearer ${created.sessionToken}` } });
      assert.equal(thisSession.status, 200);
      assert.equal((await world.login('change@example.com', GOOD_PASSWORD)).status, 401);
      assert.equal((await world.login('change@example.com', 'a brand new passphrase')).status, 200);
    });

    it('a wrong old password does not change the password', async () => {
      const created = await world.createAccount('wrongold@example.com');
      const answer = await world.changePassword(created.sessionToken, 'not the password at all', 'another good passphrase');
      assert.equal(answer.status, 401);
      assert.equal((await world.login('wrongold@example.com', GOOD_PASSWORD)).status, 200);
    });

    it('malformed bodies answer 400 with the envelope', async () => {
      for (const body of ['{', '[]', '{"email":1,"password":2}', '{"email":"a@b.c"}', '{"email":"a@b.c","password":"x","extra":1}']) {
        const response = await world.app.inject({ method: 'POST', url: '/v1/account/create', headers: { 'content-type': 'application/json' }, payload: body });
        assert.equal(response.statusCode, 400, body);
        assert.equal(JSON.parse(response.body).errno, 400);
      }
    });
  });

  describe('accounts: login failures', () => {
    it('unknown email and wrong password get the same answer, and both count toward the limit', async () => {
      const world = await startWorld({ loginFailuresPerAccount: 3, loginFailuresPerIp: 100 });
      try {
        await world.createAccount('known@example.com');
        const unknown = await world.login('nobody@example.com', GOOD_PASSWORD);
        const wrong = await world.login('known@example.com', 'not the password');
        assert.equal(unknown.status, 401);
        assert.deepEqual(unknown.body, wrong.body);

        await world.login('known@example.com', 'not the password');
        await world.login('known@example.com', 'not the password');
        // The budget is spent: even the right password waits, and the answer names no account.
        const limited = await world.login('known@example.com', GOOD_PASSWORD);
        assert.equal(limited.status, 429);
        assert.ok(Number(limited.headers['retry-after']) > 0);
        for (let i = 0; i < 3; i += 1) await world.login('nobody@example.com', 'x');
        const limitedUnknown = await world.login('nobody@example.com', 'x');
        assert.deepEqual(limitedUnknown.body, limited.body);
      } finally {
        await world.close();
      }
    });

    it('one address guessing across many accounts is stopped by the per-IP limit', async () => {
      const world = await startWorld({ loginFailuresPerAccount: 100, loginFailuresPerIp: 5 });
      try {
        await world.createAccount('victim@example.com');
        for (let i = 0; i < 5; i += 1) assert.equal((await world.login(`guess${i}@example.com`, 'x', '10.9.9.9')).status, 401);
        assert.equal((await world.login('victim@example.com', GOOD_PASSWORD, '10.9.9.9')).status, 429);
        // Another address is not affected.
        assert.equal((await world.login('victim@example.com', GOOD_PASSWORD, '10.1.1.1')).status, 200);
      } finally {
        await world.close();
      }
    });
  });

  describe('accounts: assertions, JWKS and profile', () => {
    it('an assertion names the account and its key state, and verifies against the published JWKS', async () => {
      const world = await startWorld();
      try {
        const created = await world.createAccount('jwt@example.com');
        const assertion = await world.assertion(created.sessionToken);
        const jwks = (await world.request('GET', '/.well-known/jwks.json')).body as { keys: [] };
        const { payload, protectedHeader } = await jwtVerify(assertion, createLocalJWKSet(jwks), { audience: ORIGIN, issuer: ORIGIN, currentDate: new Date(world.clock) });
        const account = (await world.store.accountById(created.uid))!;
        assert.equal(protectedHeader.alg, 'ES256');
        assert.equal(payload.sub, created.uid);
        assert.equal(payload.generation, account.generation);
        assert.equal(payload.keys_changed_at, account.keysChangedAt);
        assert.equal(payload.auth_time, Math.floor(account.lastAuthAt / 1000));
        assert.equal((payload.exp as number) - (payload.iat as number), 900);
        assert.equal(JSON.stringify(jwks).includes('"d"'), false, 'no private key material is published');
      } finally {
        await world.close();
      }
    });

    it('a rotation keeps assertions signed by the old key valid until they expire, then drops the key', async () => {
      const world = await startWorld();
      try {
        const created = await world.createAccount('rotate@example.com');
        const old = await world.assertion(created.sessionToken);
        const oldKid = JSON.parse(Buffer.from(old.split('.')[0] as string, 'base64url').toString()).kid as string;
        const keep = (900 + 60) * 1000;
        const { kid } = rotateSigningKey(signingKeysPath(world.dataDir), keep, world.clock);
        const fresh = await world.assertion(created.sessionToken);
        assert.equal(JSON.parse(Buffer.from(fresh.split('.')[0] as string, 'base64url').toString()).kid, kid);

        const published = () => (world.identity.signingKeys.jwks().keys as Array<{ kid: string }>).map((k) => k.kid);
        assert.deepEqual(published().sort(), [kid, oldKid].sort());
        // The token server (same ring) still accepts the old assertion.
        assert.equal((await world.token(old)).status, 200);

        world.clock += keep;
        assert.deepEqual(published(), [kid]);
        const second = rotateSigningKey(signingKeysPath(world.dataDir), keep, world.clock);
        assert.deepEqual(second.dropped, [oldKid]);
      } finally {
        await world.close();
      }
    });

    it('the profile answer is a JWT signed by the accounts server', async () => {
      const world = await startWorld();
      try {
        const created = await world.createAccount('profile@example.com');
        const response = await world.app.inject({ method: 'GET', url: '/v1/profile', headers: { authorization: `Bearer ${created.sessionToken}` } });
        assert.equal(response.statusCode, 200);
        assert.match(String(response.headers['content-type']), /application\/jwt/);
        const jwks = createLocalJWKSet(world.identity.signingKeys.jwks());
        const { payload } = await jwtVerify(response.body, jwks, { issuer: ORIGIN, currentDate: new Date(world.clock) });
        assert.equal(payload.sub, created.uid);
        assert.equal(payload.email, 'profile@example.com');
      } finally {
        await world.close();
      }
    });
  });
}
