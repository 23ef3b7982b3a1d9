/**
 * `herald admin bans list|lift` against a running Herald's admin listener: a source probing dead
 * endpoints is banned, listed (as text, or JSON with --json), and lifted by the operator.
 */
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { after, before, describe, it } from 'node:test';
import { run as bans } from '../../src/cli/admin-bans.js';
import { startHerald, type Running } from '../helpers/herald.js';
import { runHerald } from './harness.js';

async function cli(argv: string[]): Promise<{ code: number; text: string }> {
  let text = '';
  const code = await bans(argv, (chunk) => (text += chunk));
  return { code, text };
}

describe('herald admin bans', () => {
  let running: Running;
  let adminUrl: string;
  const probe = async () => (await fetch(`${running.origin}/wpush/v1/${'A'.repeat(60)}`, { method: 'POST', headers: { TTL: '60' } })).status;

  before(async () => {
    running = await startHerald({
      server: { adminPort: 0 },
      guard: { exemptLoopback: false, bans: { deadEndpoints: 2, windowSeconds: 60, coolDownSeconds: 600 } },
    });
    adminUrl = `http://127.0.0.1:${running.herald.listeners.adminPort}`;
  });
  after(() => running.stop());

  it('list says so when nobody is banned, and --json answers an empty array', async () => {
    assert.deepEqual(await cli(['list', '--admin-url', adminUrl]), { code: 0, text: 'no source is banned\n' });
    assert.deepEqual(await cli(['list', '--admin-url', adminUrl, '--json']), { code: 0, text: '[]\n' });
  });

  it('list shows a source banned for probing dead endpoints, as text and as JSON', async () => {
    assert.equal(await probe(), 404);
    assert.equal(await probe(), 404);
    assert.equal(await probe(), 429, 'the source is refused now');
    const text = await cli(['--admin-url', adminUrl]);
    assert.equal(text.code, 0);
    assert.match(text.text, /^4:127\.0\.0\.1\tdead-endpoints\tuntil \S+ \(\d+ s\)\n$/);
    const json = await cli(['list', '--admin-url', adminUrl, '--json']);
    const listed = JSON.parse(json.text) as Array<{ source: string; reason: string; remainingSeconds: number }>;
    assert.deepEqual(
      listed.map((ban) => [ban.source, ban.reason]),
      [['4:127.0.0.1', 'dead-endpoints']],
    );
    assert.ok((listed[0]?.remainingSeconds ?? 0) > 500);
  });

  it('lift ends the ban at once and the source starts over; lifting it again exits 1', async () => {
    const lifted = await cli(['lift', '4:127.0.0.1', '--admin-url', adminUrl, '--json']);
    assert.equal(lifted.code, 0, lifted.text);
    assert.deepEqual(JSON.parse(lifted.text), { source: '4:127.0.0.1', lifted: true });
    assert.deepEqual(await cli(['list', '--admin-url', adminUrl, '--json']), { code: 0, text: '[]\n' });
    assert.equal(await probe(), 404, 'served again, and one strike is not a ban: the strikes started over');
    assert.deepEqual(await cli(['lift', '127.0.0.1', '--admin-url', adminUrl]), { code: 1, text: '4:127.0.0.1 was not banned\n' });
  });
});

describe('herald admin bans when it cannot ask', () => {
  let old: FastifyInstance;
  before(async () => {
    // A node without the lift route answers as any fastify server does for an unknown route.
    old = Fastify();
    await old.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => old.close());

  it('a node without the lift route: says so in one line, exit 1', async () => {
    const { port } = old.server.address() as { port: number };
    const result = await runHerald(['admin', 'bans', 'lift', '4:192.0.2.1', '--admin-url', `http://127.0.0.1:${port}`]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `herald: the node at http://127.0.0.1:${port} cannot lift bans (it has no DELETE /admin/bans route): update it, or wait for the ban to expire\n`,
    );
  });

  it('no admin listener configured, or none listening: one line each', async () => {
    const { HERALD_SERVER_ADMIN_PORT: _configured, ...env } = process.env;
    const unset = await runHerald(['admin', 'bans'], { env });
    assert.equal(unset.code, 2);
    assert.equal(unset.stderr, 'herald admin bans: needs the admin listener: set server.adminPort in the configuration, or pass --admin-url URL (see `herald admin bans --help`)\n');
    const down = await runHerald(['admin', 'bans', 'list', '--admin-url', 'http://127.0.0.1:9']);
    assert.equal(down.code, 1);
    assert.equal(down.stderr, 'herald: cannot reach the admin listener at http://127.0.0.1:9 (ECONNREFUSED): is Herald running with server.adminPort set?\n');
  });
});
