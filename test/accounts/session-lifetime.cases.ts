/**
 * Sessions end (docs/security.md, hardening row 5): after an idle time, after an absolute
 * lifetime however often they are used, and the oldest when an account holds too many.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GOOD_PASSWORD, World } from './harness.js';
import type { IdentityBackend } from './harness.js';

/** The cases, on the identity store `backend` names (SQLite: session-lifetime.test.ts; PostgreSQL: test/accounts/postgres.test.ts). */
export function sessionLifetimeCases(backend: IdentityBackend): void {
  const startWorld = (...args: Partial<Parameters<typeof World.start>>) => World.start(args[0], args[1], backend);
  describe('accounts: session lifetime', () => {
    const DAY = 86_400_000;

    it('a session unused for accounts.sessionIdleSeconds is over', async () => {
      const world = await startWorld({ sessionIdleSeconds: 3600, sessionLifetimeSeconds: 30 * 86_400 });
      try {
        const { sessionToken } = await world.createAccount('idle@example.com');
        const profile = () => world.request('GET', '/v1/profile', { headers: { authorization: `Bearer ${sessionToken}` } });
        world.clock += 3_000_000;
        assert.equal((await profile()).status, 200, 'used within the idle time: still valid, and the clock restarts');
        world.clock += 3_000_000;
        assert.equal((await profile()).status, 200);
        world.clock += 3600_000;
        const over = await profile();
        assert.equal(over.status, 401);
        assert.equal(over.body.errno, 421);
        world.clock -= 3600_000;
        assert.equal((await profile()).status, 401, 'an idle session is deleted, not only refused');
      } finally {
        await world.close();
      }
    });

    it('a session is over accounts.sessionLifetimeSeconds after its login however often it is used', async () => {
      const world = await startWorld({ sessionIdleSeconds: 2 * 86_400, sessionLifetimeSeconds: 7 * 86_400 });
      try {
        const { sessionToken } = await world.createAccount('lifetime@example.com');
        const profile = () => world.request('GET', '/v1/profile', { headers: { authorization: `Bearer ${sessionToken}` } });
        for (let day = 1; day < 7; day += 1) {
          world.clock += DAY;
          assert.equal((await profile()).status, 200, `day ${day}`);
        }
        world.clock += DAY;
        assert.equal((await profile()).status, 401);
      } finally {
        await world.close();
      }
    });

    it('past accounts.maxSessionsPerAccount a login ends the oldest sessions, never the new one', async () => {
      const world = await startWorld({ maxSessionsPerAccount: 3 });
      try {
        const first = await world.createAccount('many@example.com');
        const tokens = [first.sessionToken];
        for (let i = 0; i < 4; i += 1) {
          world.clock += 1000;
          const login = await world.login('many@example.com', GOOD_PASSWORD, '198.51.100.20');
          assert.equal(login.status, 200);
          tokens.push(login.body.sessionToken as string);
        }
        const valid = async (token: string) => (await world.request('GET', '/v1/profile', { headers: { authorization: `Bearer ${token}` } })).status === 200;
        assert.deepEqual(await Promise.all(tokens.map(valid)), [false, false, true, true, true]);
        const listed = await world.request('GET', '/v1/account/sessions', { headers: { authorization: `Bearer ${tokens[4]}` } });
        assert.equal((listed.body.sessions as unknown[]).length, 3);
      } finally {
        await world.close();
      }
    });
  });
}
