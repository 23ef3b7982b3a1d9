/**
 * The client-state rules as a real account meets them: one correct client and one buggy one,
 * devices changing password and key, and each rule on its own. Every refusal must leave the store
 * exactly as it was.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { clientStateFor } from '../../src/client/identity.js';
import { verifyToken } from '../../src/crypto/service-token.js';
import { GOOD_PASSWORD, keyId, keysChangedAtOf, NODE_A, World, type Answer } from '../accounts/harness.js';
import type { IdentityBackend } from '../accounts/harness.js';

/** The cases, on the identity store `backend` names (SQLite: client-state.test.ts; PostgreSQL: test/accounts/postgres.test.ts). */
export function clientStateCases(backend: IdentityBackend): void {
  const startWorld = (...args: Partial<Parameters<typeof World.start>>) => World.start(args[0], args[1], backend);
  const KEY_1 = Buffer.from('first key material of the account, 32b');
  const KEY_2 = Buffer.from('second key material after the change!!');
  const STATE_1 = clientStateFor(KEY_1);
  const STATE_2 = clientStateFor(KEY_2);
  /** What a buggy client sends: the hash of the key's hex text instead of its bytes. */
  const WRONGLY_HASHED = createHash('sha256').update(KEY_1.toString('hex')).digest('hex').slice(0, 32);

  function refusedWith(answer: Answer, name: string): void {
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.equal(answer.body.status, name);
    const errors = answer.body.errors as Array<{ location: string; name: string; description: string }>;
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.location, 'header');
    assert.equal(typeof errors[0]?.name, 'string');
    assert.ok((errors[0]?.description ?? '').length > 0);
  }

  describe('token server: a correct and a buggy client on one account', () => {
    let world: World;
    before(async () => {
      world = await startWorld();
    });
    after(() => world.close());

    it('the buggy client is refused every time and the correct one is never locked out', async () => {
      const { sessionToken } = await world.createAccount('shared@example.com');
      const buggySession = String((await world.login('shared@example.com', GOOD_PASSWORD)).body.sessionToken);
      const assertion = await world.assertion(sessionToken);
      const kca = keysChangedAtOf(assertion);

      const correct = () => world.token(assertion, { 'x-keyid': keyId(kca, STATE_1) });
      const first = await correct();
      assert.equal(first.status, 200);
      const uid = first.body.uid;

      const buggyAssertion = await world.assertion(buggySession);
      const attempts: Array<Record<string, string>> = [
        { 'x-keyid': keyId(kca, WRONGLY_HASHED) }, // wrongly hashed key
        { 'x-client-state': WRONGLY_HASHED },
        {}, // empty after a real one
        { 'x-client-state': '' },
        { 'x-keyid': `${kca}-` },
        { 'x-client-state': STATE_1.toUpperCase() }, // right key, wrong spelling
        { 'x-client-state': STATE_1.slice(0, 31) },
      ];
      for (const headers of attempts) {
        const before = await world.store.snapshot();
        refusedWith(await world.token(buggyAssertion, headers), 'invalid-client-state');
        assert.equal(await world.store.snapshot(), before, `a refusal wrote something (${JSON.stringify(headers)})`);
        const again = await correct();
        assert.equal(again.status, 200, `the correct client was locked out after ${JSON.stringify(headers)}`);
        assert.equal(again.body.uid, uid);
      }

      // A password change and a new key: the correct client moves on...
      world.clock += 60_000;
      assert.equal((await world.changePassword(sessionToken, GOOD_PASSWORD, 'the second passphrase')).status, 200);
      const newAssertion = await world.assertion(sessionToken);
      const newKca = keysChangedAtOf(newAssertion);
      assert.ok(newKca > kca);
      const moved = await world.token(newAssertion, { 'x-keyid': keyId(newKca, STATE_2) });
      assert.equal(moved.status, 200);
      assert.notEqual(moved.body.uid, uid);
      assert.deepEqual(world.retired, [{ service: 'push', retiredUid: uid, newUid: moved.body.uid, node: NODE_A }]);

      // ...and the buggy one cycling back to the old state, with a fresh assertion, is refused.
      const buggyAgain = String((await world.login('shared@example.com', 'the second passphrase')).body.sessionToken);
      const buggyNew = await world.assertion(buggyAgain);
      const cycles: Array<Record<string, string>> = [{ 'x-keyid': keyId(newKca, STATE_1) }, { 'x-client-state': STATE_1 }, {}];
      for (const headers of cycles) {
        refusedWith(await world.token(buggyNew, headers), 'invalid-client-state');
        const correctNow = await world.token(newAssertion, { 'x-keyid': keyId(newKca, STATE_2) });
        assert.equal(correctNow.status, 200);
        assert.equal(correctNow.body.uid, moved.body.uid);
      }
      // The old assertion (older generation) is refused whatever state it carries.
      refusedWith(await world.token(buggyAssertion, { 'x-keyid': keyId(kca, STATE_2) }), 'invalid-generation');
      assert.equal(world.retired.length, 1);
    });

    it('a password change followed by a new key works on both devices in the right order', async () => {
      const phone = await world.createAccount('two-devices@example.com');
      const laptopLogin = await world.login('two-devices@example.com', GOOD_PASSWORD);
      const laptopSession = String(laptopLogin.body.sessionToken);
      const phoneAssertion = await world.assertion(phone.sessionToken);
      const laptopAssertion = await world.assertion(laptopSession);
      const kca = keysChangedAtOf(phoneAssertion);
      const phoneFirst = await world.token(phoneAssertion, { 'x-keyid': keyId(kca, STATE_1) });
      const laptopFirst = await world.token(laptopAssertion, { 'x-client-state': STATE_1 });
      assert.equal(phoneFirst.status, 200);
      assert.equal(laptopFirst.body.uid, phoneFirst.body.uid);

      // 1. The phone changes the password, which changes the key: it gets a new uid.
      world.clock += 60_000;
      assert.equal((await world.changePassword(phone.sessionToken, GOOD_PASSWORD, 'phone picked this one')).status, 200);
      const phoneNew = await world.assertion(phone.sessionToken);
      const phoneSecond = await world.token(phoneNew, { 'x-keyid': keyId(keysChangedAtOf(phoneNew), STATE_2) });
      assert.equal(phoneSecond.status, 200);
      assert.notEqual(phoneSecond.body.uid, phoneFirst.body.uid);

      // 2. The laptop's session is gone; its still-valid old assertion is refused, with either key.
      assert.equal((await world.request('POST', '/v1/assertion', { headers: { authorization: `Bearer ${laptopSession}` } })).status, 401);
      refusedWith(await world.token(laptopAssertion, { 'x-client-state': STATE_1 }), 'invalid-generation');
      refusedWith(await world.token(laptopAssertion, { 'x-client-state': STATE_2 }), 'invalid-generation');

      // 3. The laptop logs in with the new password, derives the new key, and joins the phone.
      const laptopAgain = String((await world.login('two-devices@example.com', 'phone picked this one')).body.sessionToken);
      const laptopNew = await world.assertion(laptopAgain);
      const laptopSecond = await world.token(laptopNew, { 'x-keyid': keyId(keysChangedAtOf(laptopNew), STATE_2) });
      assert.equal(laptopSecond.status, 200);
      assert.equal(laptopSecond.body.uid, phoneSecond.body.uid);
    });
  });

  describe('token server: each rule', () => {
    let world: World;
    let counter = 0;
    before(async () => {
      world = await startWorld();
    });
    after(() => world.close());

    /** A fresh account id per test, and assertions for it with chosen generation/keys_changed_at. */
    function account() {
      counter += 1;
      const sub = counter.toString(16).padStart(32, '0');
      return (generation: number, keysChangedAt: number) => world.craftAssertion({ generation, keys_changed_at: keysChangedAt, auth_time: 1 }, sub);
    }

    async function unchanged(action: () => Promise<void>): Promise<void> {
      const before = await world.store.snapshot();
      await action();
      assert.equal(await world.store.snapshot(), before, 'a refused request changed the store');
    }

    it('a token answer carries every field, and the token verifies with the shared secret', async () => {
      const as = account();
      const answer = await world.token(await as(100, 100), { 'x-client-state': STATE_1 });
      assert.equal(answer.status, 200);
      assert.deepEqual(Object.keys(answer.body).sort(), ['api_endpoint', 'duration', 'hashalg', 'hashed_uid', 'id', 'key', 'node_type', 'uid']);
      assert.equal(answer.body.api_endpoint, NODE_A);
      assert.equal(answer.body.duration, 3600);
      assert.equal(answer.body.hashalg, 'sha256');
      assert.match(String(answer.body.hashed_uid), /^[0-9a-f]{32}$/);
      assert.equal(answer.headers['cache-control'], 'no-store');
      const opened = verifyToken(world.tokenSecrets, String(answer.body.id), Math.floor(world.clock / 1000));
      assert.ok(opened);
      assert.equal(opened.payload.uid, answer.body.uid);
      assert.equal(opened.payload.node, NODE_A);
      assert.equal(opened.payload.hashed_uid, answer.body.hashed_uid);
      assert.equal(opened.key, answer.body.key);
      assert.equal(verifyToken(world.tokenSecrets, String(answer.body.id), Math.floor(world.clock / 1000) + 3600), null, 'expired');
      const tampered = Buffer.from(String(answer.body.id), 'base64url');
      tampered[5] = (tampered[5] as number) ^ 1;
      assert.equal(verifyToken(world.tokenSecrets, tampered.toString('base64url'), Math.floor(world.clock / 1000)), null);
    });

    it('a state first sent after none is recorded, and from then on it is required', async () => {
      const as = account();
      const none = await world.token(await as(100, 100));
      assert.equal(none.status, 200);
      const first = await world.token(await as(100, 100), { 'x-client-state': STATE_1 });
      assert.equal(first.status, 200);
      await unchanged(async () => refusedWith(await world.token(await as(100, 100)), 'invalid-client-state'));
      await unchanged(async () => refusedWith(await world.token(await as(200, 200)), 'invalid-client-state'));
    });

    it('a change of state needs a strictly higher generation or keys_changed_at', async () => {
      const as = account();
      assert.equal((await world.token(await as(100, 100), { 'x-client-state': STATE_1 })).status, 200);
      await unchanged(async () => refusedWith(await world.token(await as(100, 100), { 'x-client-state': STATE_2 }), 'invalid-client-state'));
      // A higher keys_changed_at alone is enough.
      const changed = await world.token(await as(150, 150), { 'x-client-state': STATE_2 });
      assert.equal(changed.status, 200);
    });

    it('a higher generation alone is enough too, and the new state then sticks', async () => {
      const as = account();
      const first = await world.token(await as(100, 100), { 'x-client-state': STATE_1 });
      const second = await world.token(await as(200, 100), { 'x-client-state': STATE_2 });
      assert.equal(second.status, 200);
      assert.notEqual(second.body.uid, first.body.uid);
      const third = await world.token(await as(200, 100), { 'x-client-state': STATE_2 });
      assert.equal(third.body.uid, second.body.uid);
    });

    it('a state used before is never accepted again, whatever the generation', async () => {
      const as = account();
      await world.token(await as(100, 100), { 'x-client-state': STATE_1 });
      await world.token(await as(200, 200), { 'x-client-state': STATE_2 });
      await unchanged(async () => refusedWith(await world.token(await as(300, 300), { 'x-client-state': STATE_1 }), 'invalid-client-state'));
      await unchanged(async () => refusedWith(await world.token(await as(300, 300), { 'x-client-state': '' }), 'invalid-client-state'));
    });

    it('a lower generation or keys_changed_at than recorded is refused by name', async () => {
      const as = account();
      await world.token(await as(200, 200), { 'x-client-state': STATE_1 });
      await unchanged(async () => refusedWith(await world.token(await as(199, 199), { 'x-client-state': STATE_1 }), 'invalid-generation'));
      await unchanged(async () => refusedWith(await world.token(await as(300, 199), { 'x-client-state': STATE_1 }), 'invalid-keysChangedAt'));
    });

    it('keys_changed_at later than generation is refused', async () => {
      const as = account();
      await unchanged(async () => refusedWith(await world.token(await as(100, 101), { 'x-client-state': STATE_1 }), 'invalid-keysChangedAt'));
    });

    it('an X-KeyID that disagrees with the assertion, or with X-Client-State, is refused', async () => {
      const as = account();
      await unchanged(async () => refusedWith(await world.token(await as(100, 100), { 'x-keyid': keyId(99, STATE_1) }), 'invalid-credentials'));
      await unchanged(async () =>
        refusedWith(await world.token(await as(100, 100), { 'x-keyid': keyId(100, STATE_1), 'x-client-state': STATE_2 }), 'invalid-client-state'),
      );
      assert.equal((await world.token(await as(100, 100), { 'x-keyid': keyId(100, STATE_1), 'x-client-state': STATE_1 })).status, 200);
    });

    it('values beyond 2^53-1 are refused clearly and nothing is recorded', async () => {
      const as = account();
      await unchanged(async () => {
        refusedWith(await world.token(await as(100, 100), { 'x-keyid': keyId('18446744073709551615', STATE_1) }), 'invalid-keysChangedAt');
        refusedWith(await world.token(await as(2 ** 53, 100), { 'x-client-state': STATE_1 }), 'invalid-credentials');
        refusedWith(await world.token(await as(1.5, 1), { 'x-client-state': STATE_1 }), 'invalid-credentials');
      });
    });

    it('concurrent first requests of one account create one record, and concurrent changes one new uid', async () => {
      const as = account();
      const first = await Promise.all(Array.from({ length: 8 }, async () => world.token(await as(100, 100), { 'x-client-state': STATE_1 })));
      assert.deepEqual(new Set(first.map((answer) => answer.status)), new Set([200]));
      assert.equal(new Set(first.map((answer) => answer.body.uid)).size, 1);
      const changed = await Promise.all(Array.from({ length: 8 }, async () => world.token(await as(200, 200), { 'x-client-state': STATE_2 })));
      assert.deepEqual(new Set(changed.map((answer) => answer.status)), new Set([200]));
      assert.equal(new Set(changed.map((answer) => answer.body.uid)).size, 1);
      const sub = (JSON.parse(Buffer.from((await as(1, 1)).split('.')[1] as string, 'base64url').toString()) as { sub: string }).sub;
      assert.equal((await world.store.userHistory('push', sub)).length, 2);
    });

    it('expired, foreign or unsigned assertions are refused as invalid credentials', async () => {
      const as = account();
      const valid = await as(100, 100);
      world.clock += 3_600_000;
      await unchanged(async () => refusedWith(await world.token(valid), 'invalid-credentials'));
      world.clock -= 3_600_000;
      const [header, payload] = valid.split('.');
      const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
      await unchanged(async () => {
        refusedWith(await world.token(`${header}.${payload}.${'A'.repeat(86)}`), 'invalid-credentials');
        refusedWith(await world.token(unsigned), 'invalid-credentials');
      });
    });
  });
}
