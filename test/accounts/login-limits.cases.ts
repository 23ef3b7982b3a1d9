/**
 * The login and sign-up limits attacked as an attacker would (docs/accounts.md, "Login limits";
 * docs/security.md, hardening rows 1-4 and 6): a parallel burst, an attacker locking an owner out,
 * a botnet, clients behind a proxy, IPv6 rotation inside one /64, sign-up floods and oversized or
 * malformed bodies.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GOOD_PASSWORD, World } from './harness.js';
import type { IdentityBackend } from './harness.js';

/** The cases, on the identity store `backend` names (SQLite: login-limits.test.ts; PostgreSQL: test/accounts/postgres.test.ts). */
export function loginLimitCases(backend: IdentityBackend): void {
  const startWorld = (...args: Partial<Parameters<typeof World.start>>) => World.start(args[0], args[1], backend);
  const DAY_MS = 86_400_000;

  function statuses(answers: Array<{ status: number }>): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const { status } of answers) counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  }

  describe('accounts: login limits', () => {
    it('60 parallel guesses against a budget of 10 reach the password check at most 10 times, and a right last guess is refused', async () => {
      const world = await startWorld({ loginFailuresPerAccount: 10, loginFailuresPerIp: 1000 });
      try {
        await world.createAccount('burst@example.com');
        const guesses = Array.from({ length: 60 }, (_, i) => (i === 59 ? GOOD_PASSWORD : `wrong guess ${i}`));
        const answers = await Promise.all(guesses.map((guess) => world.login('burst@example.com', guess, '203.0.113.50')));
        const counts = statuses(answers);
        assert.equal((counts[401] ?? 0) + (counts[200] ?? 0), 10, JSON.stringify(counts));
        assert.equal(counts[429], 50, JSON.stringify(counts));
        assert.equal(answers[59]?.status, 429, 'the right password, sent after the budget was spent, is refused');
      } finally {
        await world.close();
      }
    });

    it('a successful login gives back only its own point: it does not hand out fresh guesses', async () => {
      const world = await startWorld({ loginFailuresPerAccount: 5, loginFailuresPerIp: 1000 });
      try {
        await world.createAccount('refill@example.com');
        for (let i = 0; i < 4; i += 1) assert.equal((await world.login('refill@example.com', 'wrong', '203.0.113.51')).status, 401);
        assert.equal((await world.login('refill@example.com', GOOD_PASSWORD, '203.0.113.51')).status, 200);
        assert.equal((await world.login('refill@example.com', 'wrong', '203.0.113.51')).status, 401);
        const limited = await world.login('refill@example.com', 'wrong', '203.0.113.51');
        assert.equal(limited.status, 429);
        assert.equal(limited.body.errno, 429);
      } finally {
        await world.close();
      }
    });

    it('an attacker who spends the budget from their address does not lock the owner out of another', async () => {
      const world = await startWorld({ loginFailuresPerAccount: 10, loginFailuresPerIp: 1000 });
      try {
        await world.createAccount('owner@example.com');
        for (let i = 0; i < 10; i += 1) await world.login('owner@example.com', 'wrong', '203.0.113.66');
        assert.equal((await world.login('owner@example.com', GOOD_PASSWORD, '203.0.113.66')).status, 429);
        assert.equal((await world.login('owner@example.com', GOOD_PASSWORD, '198.51.100.10')).status, 200);
        // The window ends: the attacker's address may try again.
        world.clock += 15 * 60_000;
        assert.equal((await world.login('owner@example.com', 'wrong', '203.0.113.66')).status, 401);
      } finally {
        await world.close();
      }
    });

    it("many sources together hit the account's daily ceiling; the owner still gets in from a source they used before", async () => {
      const world = await startWorld({ loginFailuresPerAccount: 10, loginFailuresPerIp: 1000, loginFailuresPerAccountAllSources: 5 });
      try {
        await world.createAccount('target@example.com');
        assert.equal((await world.login('target@example.com', GOOD_PASSWORD, '198.51.100.10')).status, 200);
        for (let i = 1; i <= 5; i += 1) assert.equal((await world.login('target@example.com', 'wrong', `203.0.113.${i}`)).status, 401);
        assert.equal((await world.login('target@example.com', 'wrong', '203.0.113.6')).status, 429);
        assert.equal((await world.login('target@example.com', GOOD_PASSWORD, '203.0.113.7')).status, 429, 'a new source waits out the ceiling');
        assert.equal((await world.login('target@example.com', GOOD_PASSWORD, '198.51.100.10')).status, 200, 'a known source is exempt');
        world.clock += DAY_MS;
        assert.equal((await world.login('target@example.com', GOOD_PASSWORD, '203.0.113.7')).status, 200);
      } finally {
        await world.close();
      }
    });

    it('behind a trusted proxy each client has its own budget, and a client cannot pick its address without one', async () => {
      const proxied = await startWorld({ loginFailuresPerAccount: 3, loginFailuresPerIp: 1000 }, { trustedProxies: ['10.0.0.1'] });
      try {
        await proxied.createAccount('proxied@example.com');
        const via = (client: string, password: string) =>
          proxied.request('POST', '/v1/account/login', { body: { email: 'proxied@example.com', password }, headers: { 'x-forwarded-for': client }, ip: '10.0.0.1' });
        for (let i = 0; i < 3; i += 1) assert.equal((await via('203.0.113.80', 'wrong')).status, 401);
        assert.equal((await via('203.0.113.80', GOOD_PASSWORD)).status, 429);
        assert.equal((await via('203.0.113.81', GOOD_PASSWORD)).status, 200, 'another client of the same proxy is not locked out');
      } finally {
        await proxied.close();
      }

      const direct = await startWorld({ loginFailuresPerAccount: 3, loginFailuresPerIp: 1000 });
      try {
        await direct.createAccount('direct@example.com');
        const spoofing = (n: number) =>
          direct.request('POST', '/v1/account/login', { body: { email: 'direct@example.com', password: 'wrong' }, headers: { 'x-forwarded-for': `192.0.2.${n}` }, ip: '203.0.113.90' });
        for (let i = 0; i < 3; i += 1) assert.equal((await spoofing(i)).status, 401);
        assert.equal((await spoofing(99)).status, 429, 'X-Forwarded-For from an untrusted peer is ignored');
      } finally {
        await direct.close();
      }
    });

    it('addresses of one IPv6 /64 share a budget', async () => {
      const world = await startWorld({ loginFailuresPerAccount: 1000, loginFailuresPerIp: 3 });
      try {
        for (let i = 1; i <= 3; i += 1) assert.equal((await world.login(`v6-${i}@example.com`, 'wrong', `2001:db8:1:2::${i}`)).status, 401);
        assert.equal((await world.login('v6-4@example.com', 'wrong', '2001:db8:1:2:ffff::9')).status, 429);
        assert.equal((await world.login('v6-4@example.com', 'wrong', '2001:db8:1:3::1')).status, 401, 'the next /64 is another source');
      } finally {
        await world.close();
      }
    });

    it('password change spends the same budgets as login', async () => {
      const world = await startWorld({ loginFailuresPerAccount: 3, loginFailuresPerIp: 1000 });
      try {
        const { sessionToken } = await world.createAccount('change@example.com');
        const change = (oldPassword: string) =>
          world.request('POST', '/v1/password/change', {
            body: { oldPassword, newPassword: `${GOOD_PASSWORD} 2` },
            headers: { authorization: `Bearer ${sessionToken}` },
            ip: '203.0.113.70',
          });
        const answers = await Promise.all(Array.from({ length: 12 }, () => change('wrong')));
        assert.deepEqual(statuses(answers), { 401: 3, 429: 9 });
        assert.equal((await change(GOOD_PASSWORD)).status, 429);
      } finally {
        await world.close();
      }
    });
  });

  describe('accounts: sign-up limits', () => {
    it('a parallel burst of sign-ups from one source creates at most the budget, then 429 errno 430', async () => {
      const world = await startWorld({ signupsPerSource: 3 });
      try {
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            world.request('POST', '/v1/account/create', { body: { email: `flood${i}@example.com`, password: GOOD_PASSWORD }, ip: '203.0.113.40' }),
          ),
        );
        assert.deepEqual(statuses(answers), { 201: 3, 429: 17 });
        const refused = answers.find((answer) => answer.status === 429);
        assert.equal(refused?.body.errno, 430);
        assert.ok(Number(refused?.headers['retry-after']) > 0);
        // Another source is not affected, and the window ends.
        const other = await world.request('POST', '/v1/account/create', { body: { email: 'other@example.com', password: GOOD_PASSWORD }, ip: '203.0.113.41' });
        assert.equal(other.status, 201);
        world.clock += 3600_000;
        const later = await world.request('POST', '/v1/account/create', { body: { email: 'later@example.com', password: GOOD_PASSWORD }, ip: '203.0.113.40' });
        assert.equal(later.status, 201);
      } finally {
        await world.close();
      }
    });

    it('a taken email answers 409 errno 410 (a deliberate, documented choice) and still costs a sign-up point', async () => {
      const world = await startWorld({ signupsPerSource: 2 });
      try {
        const create = (email: string) => world.request('POST', '/v1/account/create', { body: { email, password: GOOD_PASSWORD }, ip: '203.0.113.42' });
        assert.equal((await create('taken@example.com')).status, 201);
        const taken = await create('taken@example.com');
        assert.equal(taken.status, 409);
        assert.equal(taken.body.errno, 410);
        // Probing for registered emails is limited as hard as creating accounts.
        assert.equal((await create('probe@example.com')).status, 429);
      } finally {
        await world.close();
      }
    });
  });

  describe('accounts: bodies', () => {
    it('an oversized body answers 413 errno 406 without being parsed', async () => {
      const world = await startWorld();
      try {
        const huge = JSON.stringify({ email: 'big@example.com', password: 'x'.repeat(20 * 1024 * 1024) });
        for (const url of ['/v1/account/create', '/v1/account/login']) {
          const response = await world.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: huge });
          assert.equal(response.statusCode, 413, url);
          assert.equal(JSON.parse(response.body).errno, 406);
        }
      } finally {
        await world.close();
      }
    });

    it('a validation error names the field at fault and never echoes a value', async () => {
      const world = await startWorld();
      try {
        const cases: Array<[unknown, RegExp]> = [
          [{ email: 'a@b.c' }, /password is missing/],
          [{ email: 1, password: 'secret value 1' }, /email must be a string/],
          [{ email: 'a@b.c', password: 'secret value 2', extra: 1 }, /unknown field extra/],
          [{ email: 'a@b.c', password: '' }, /password is empty/],
          [[], /the body must be a JSON object/],
        ];
        for (const [body, expected] of cases) {
          const answer = await world.request('POST', '/v1/account/create', { body });
          assert.equal(answer.status, 400, JSON.stringify(body));
          assert.equal(answer.body.errno, 400);
          assert.match(String(answer.body.message), expected);
          assert.doesNotMatch(String(answer.body.message), /secret value/);
        }
      } finally {
        await world.close();
      }
    });
  });
}
