/**
 * Random and malformed X-KeyID, X-Client-State and Authorization headers, against an account whose
 * state is recorded: every answer is a 4xx with the error body, never a 500, and nothing is written.
 * The generator is seeded; a failure names the seed and the input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clientStateFor } from '../../src/client/identity.js';
import { keyId, keysChangedAtOf, World } from '../accounts/harness.js';
import type { IdentityBackend } from '../accounts/harness.js';

/** The cases, on the identity store `backend` names (SQLite: fuzz.test.ts; PostgreSQL: test/accounts/postgres.test.ts). */
export function tokenFuzzCases(backend: IdentityBackend): void {
  const startWorld = (...args: Partial<Parameters<typeof World.start>>) => World.start(args[0], args[1], backend);
  const SEED = Number(process.env.HERALD_FUZZ_SEED ?? 20260101);
  const CASES = 400;
  const STATE = clientStateFor(Buffer.from('fuzzed account key'));

  /** mulberry32: small, seeded, good enough to spread inputs. */
  function random(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const ALPHABETS = [
    '0123456789abcdef',
    '0123456789ABCDEF',
    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
    '+/=.,;: -\t"\'\\',
    Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join(''),
    'éü\u00a0\u00ff\u0080',
  ];

  function mutations(rand: () => number, valid: string): string[] {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
    const text = (length: number) => {
      const alphabet = pick(ALPHABETS);
      return Array.from({ length }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    };
    const out: string[] = [];
    for (let i = 0; i < CASES; i += 1) {
      const at = Math.floor(rand() * valid.length);
      switch (Math.floor(rand() * 9)) {
        case 0: out.push(text(Math.floor(rand() * 80))); break;
        case 1: out.push(valid.slice(0, at)); break; // truncated
        case 2: out.push(valid + text(1 + Math.floor(rand() * 5))); break; // extended
        case 3: out.push(valid.slice(0, at) + text(1) + valid.slice(at + 1)); break; // one character replaced
        case 4: out.push(valid.slice(0, at) + text(1 + Math.floor(rand() * 3)) + valid.slice(at)); break; // inserted
        case 5: out.push(` ${valid}`.slice(0, 1 + Math.floor(rand() * 3)) + valid); break;
        case 6: out.push(valid.toUpperCase()); break;
        case 7: out.push(text(4000 + Math.floor(rand() * 9000))); break; // huge
        default: out.push(`${Math.floor(rand() * 1e6)}-${text(Math.floor(rand() * 30))}`);
      }
    }
    // Surrounding whitespace is not part of a header value: HTTP strips it, so those are not malformed.
    return [...new Set(out)].filter((value) => value.trim() !== valid);
  }

  describe('token server header fuzzing', () => {
    let world: World;
    let assertion: string;
    let kca: number;
    before(async () => {
      world = await startWorld();
      const { sessionToken } = await world.createAccount('fuzz@example.com');
      assertion = await world.assertion(sessionToken);
      kca = keysChangedAtOf(assertion);
      const recorded = await world.token(assertion, { 'x-keyid': keyId(kca, STATE) });
      assert.equal(recorded.status, 200);
    });
    after(() => world.close());

    async function expectRefusal(headers: Record<string, string | string[]>, label: string): Promise<void> {
      const before = await world.store.snapshot();
      const response = await world.app.inject({ method: 'GET', url: '/1.0/push/1.0', headers });
      const shown = JSON.stringify(headers);
      const context = `seed ${SEED}, ${label}: ${shown.length > 600 ? `${shown.slice(0, 100)}…${shown.slice(-400)}` : shown}`;
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${response.statusCode} for ${context}`);
      const body = JSON.parse(response.body) as { status: unknown; errors: Array<Record<string, unknown>> };
      assert.equal(typeof body.status, 'string', context);
      assert.equal(body.errors.length, 1, context);
      assert.ok(['header', 'body', 'url'].includes(String(body.errors[0]?.location)), context);
      assert.equal(typeof body.errors[0]?.name, 'string', context);
      assert.equal(typeof body.errors[0]?.description, 'string', context);
      assert.equal(await world.store.snapshot(), before, `a refused request wrote something: ${context}`);
    }

    it('malformed X-KeyID values are refused', async () => {
      const rand = random(SEED);
      const inputs = mutations(rand, keyId(kca, STATE));
      inputs.push(`${kca}-${Buffer.from(STATE, 'hex').toString('base64')}==`, `${kca}-${STATE}`, `-${kca}`, `${kca}`, `${2 ** 64}-AAAAAAAAAAAAAAAAAAAAAA`, '');
      for (const value of inputs) await expectRefusal({ authorization: `Bearer ${assertion}`, 'x-keyid': value }, 'X-KeyID');
    });

    it('malformed X-Client-State values are refused', async () => {
      const rand = random(SEED + 1);
      const inputs = mutations(rand, STATE);
      inputs.push(' '.repeat(32), `${STATE} `, `0x${STATE.slice(2)}`, STATE.slice(0, 30) + 'zz');
      for (const value of inputs) await expectRefusal({ authorization: `Bearer ${assertion}`, 'x-client-state': value }, 'X-Client-State');
    });

    it('malformed Authorization values are refused', async () => {
      const rand = random(SEED + 2);
      const inputs = mutations(rand, `Bearer ${assertion}`);
      const [h, p, s] = assertion.split('.') as [string, string, string];
      inputs.push('Bearer', 'Bearer ', `Basic ${assertion}`, `Bearer ${p}.${h}.${s}`, `Bearer ${h}.${p}`, `Bearer ${h}..${s}`, `Bearer ${assertion}.${s}`, `Bearer ${'a'.repeat(100_000)}`);
      for (const value of inputs) await expectRefusal({ authorization: value, 'x-keyid': keyId(kca, STATE) }, 'Authorization');
    });

    it('repeated headers and odd paths are refused too', async () => {
      await expectRefusal({ authorization: `Bearer ${assertion}`, 'x-keyid': [keyId(kca, STATE), keyId(kca, STATE)] }, 'two X-KeyID');
      await expectRefusal({ authorization: `Bearer ${assertion}`, 'x-client-state': [STATE, STATE] }, 'two X-Client-State');
      // (Node's HTTP parser keeps only the first of repeated Authorization headers.)
      for (const url of ['/1.0/Push/1.0', '/1.0/push/one', '/1.0/nosuch/1.0', '/1.0/push/1.0.0.0', '/1.0/%ff/1.0']) {
        const before = await world.store.snapshot();
        const response = await world.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${assertion}`, 'x-keyid': keyId(kca, STATE) } });
        assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${url}: ${response.statusCode}`);
        assert.equal(await world.store.snapshot(), before);
      }
    });

    it('after all of it the account still gets its token', async () => {
      const answer = await world.token(assertion, { 'x-keyid': keyId(kca, STATE) });
      assert.equal(answer.status, 200);
    });
  });
}
