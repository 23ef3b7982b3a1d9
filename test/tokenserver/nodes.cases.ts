/**
 * Node assignment as an operator drives it with `herald admin nodes …` while the token server runs
 * on the same data folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run as admin } from '../../src/cli/admin.js';
import { clientStateFor } from '../../src/client/identity.js';
import { NODE_A, NODE_B, World } from '../accounts/harness.js';
import type { IdentityBackend } from '../accounts/harness.js';

/** The cases, on the identity store `backend` names (SQLite: nodes.test.ts; PostgreSQL: test/accounts/postgres.test.ts). */
export function nodeCases(backend: IdentityBackend): void {
  const startWorld = (...args: Partial<Parameters<typeof World.start>>) => World.start(args[0], args[1], backend);
  const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

  describe('token server: nodes', () => {
    let world: World;
    let next = 0;
    const lines: string[] = [];
    const adminRun = (...argv: string[]) => admin([...argv, '--data-dir', world.dataDir], (line) => lines.push(line));

    before(async () => {
      world = await startWorld();
    });
    after(() => world.close());

    async function newUser(service = 'push') {
      next += 1;
      const sub = `ab${next.toString(16).padStart(30, '0')}`;
      const assertion = await world.craftAssertion({ generation: 10, keys_changed_at: 10, auth_time: 1 }, sub);
      const state = clientStateFor(Buffer.from(sub));
      return { assertion, state, token: () => world.token(assertion, { 'x-client-state': state }, service) };
    }

    it('a new user goes to the node with the most free capacity', async () => {
      // NODE_A (capacity 1000) is there from the harness; B has more room.
      assert.equal(await adminRun('nodes', 'add', 'push', NODE_B, '--capacity', '1003'), 0);
      const endpoints: string[] = [];
      for (let i = 0; i < 5; i += 1) endpoints.push(String((await (await newUser()).token()).body.api_endpoint));
      // B had 3 more free slots: it takes the first users until both have the same room, then they alternate.
      assert.deepEqual(endpoints.slice(0, 3), [NODE_B, NODE_B, NODE_B]);
      assert.deepEqual(new Set(endpoints.slice(3)), new Set([NODE_A, NODE_B]));
      const nodes = await world.store.listNodes('push');
      assert.equal(nodes.reduce((sum, node) => sum + node.currentLoad, 0), 5);
    });

    it('a user on a downed node is moved at its next token request, keeping its uid', async () => {
      const user = await newUser();
      const first = await user.token();
      const from = String(first.body.api_endpoint);
      assert.equal(await adminRun('nodes', 'down', 'push', from), 0);
      const second = await user.token();
      assert.equal(second.status, 200);
      assert.notEqual(second.body.api_endpoint, from);
      assert.equal(second.body.uid, first.body.uid);
      assert.equal(await adminRun('nodes', 'up', 'push', from), 0);
    });

    it('nodes list shows capacity, load, free slots and state', async () => {
      lines.length = 0;
      assert.equal(await adminRun('nodes', 'down', 'push', NODE_A), 0);
      lines.length = 0;
      assert.equal(await adminRun('nodes', 'list', 'push'), 0);
      assert.equal(lines[0], 'service\turl\tcapacity\tload\tavailable\tstate');
      const a = lines.find((line) => line.includes(NODE_A))?.split('\t');
      assert.equal(a?.[5], 'down');
      assert.equal(Number(a?.[2]) - Number(a?.[3]), Number(a?.[4]));
      assert.equal(await adminRun('nodes', 'up', 'push', NODE_A), 0);
    });

    it('with every node down or full the answer is 503 node-unavailable, and nothing is recorded', async () => {
      await adminRun('nodes', 'add', 'lonely', 'https://lonely.herald.test/', '--capacity', '1');
      const first = await newUser('lonely');
      assert.equal((await first.token()).status, 200);
      const before = await world.store.snapshot();
      const second = await (await newUser('lonely')).token();
      assert.equal(second.status, 503);
      assert.equal(second.body.status, 'node-unavailable');
      assert.equal(await world.store.snapshot(), before);
    });

    it('a service without nodes is unknown', async () => {
      const answer = await (await newUser('nosuch')).token();
      assert.equal(answer.status, 404);
      assert.equal(answer.body.status, 'unknown-service');
    });

    it('the herald command runs admin, and refuses a bad URL or capacity', () => {
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'admin', ...args, '--data-dir', world.dataDir], { cwd: projectRoot, encoding: 'utf8' });
      const listed = cli('nodes', 'list');
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, /node-b\.herald\.test/);
      assert.notEqual(cli('nodes', 'add', 'push', 'not a url').status, 0);
      assert.notEqual(cli('nodes', 'add', 'push', NODE_A, '--capacity', '-3').status, 0);
      const rotated = cli('accounts', 'rotate-signing-key');
      assert.equal(rotated.status, 0, rotated.stderr);
      assert.match(rotated.stdout, /now signs assertions/);
    });
  });
}
