/**
 * Issue 10 item 18, with real processes: two `herald serve` on one PostgreSQL schema. A node
 * started with a secrets.json of its own would answer 404 errno 102 to every endpoint the first
 * node issued (senders then drop the subscription); it must refuse to start instead, saying what
 * to do. With the first node's secrets.json copied over, it starts and answers those endpoints.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { CHANNEL_A, RawDevice } from '../helpers/herald.js';
import { heraldCommand, ServingHerald } from '../helpers/process.js';
import { post } from '../helpers/sender.js';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';

const schema = `herald_secrets_${randomBytes(4).toString('hex')}`;
const storeUrl = (() => {
  const url = new URL(postgresUrl);
  url.searchParams.set('schema', schema);
  return url.toString();
})();
const root = mkdtempSync(path.join(tmpdir(), 'herald-secrets-mismatch-'));
const running = new Set<ServingHerald>();

function nodeArgs(dataDir: string): string[] {
  return ['--port', '0', '--data-dir', dataDir, '--set', `store.url=${storeUrl}`];
}

/** `herald serve` that is expected to stop on its own; killed (and reported) if it is still up after 30 s. */
async function serveToItsEnd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = heraldCommand(['serve', ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ended = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await ended;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

requireServices([await postgresUnavailable()], (skip) => {
  describe('a node with other secrets on the cluster database', { skip }, () => {
    after(async () => {
      for (const node of running) await node.stop();
      const admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
      rmSync(root, { recursive: true, force: true });
    });

    it('refuses to start, saying to copy secrets.json; with the copied secrets.json it starts and answers the first node\'s endpoints', async () => {
      const first = path.join(root, 'node-a');
      const second = path.join(root, 'node-b');
      const a = await ServingHerald.start(nodeArgs(first), { name: 'A' });
      running.add(a);
      const device = await RawDevice.connect(a.wsUrl);
      try {
        await device.hello();
        const endpoint = await device.register(CHANNEL_A);

        // Node B makes its own secrets.json (as a node set up by hand would) and must not serve.
        const refused = await serveToItsEnd(nodeArgs(second));
        assert.equal(refused.code, 2, `exit code 2 (a restart cannot fix it); stderr: ${refused.stderr}`);
        assert.match(
          refused.stderr,
          new RegExp(`secrets\\.json in ${second.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not match the cluster's \\(endpointTokens key 1 differs\\): copy secrets\\.json from a running node to every node`),
        );
        assert.doesNotMatch(refused.stdout, /Herald listening/, 'it never listened');

        copyFileSync(path.join(first, 'secrets.json'), path.join(second, 'secrets.json'));
        const b = await ServingHerald.start(nodeArgs(second), { name: 'B' });
        running.add(b);
        const onB = `${b.origin}${new URL(endpoint).pathname}`;
        const response = await post(onB, { TTL: '600' });
        assert.equal(response.status, 201, `node B opens node A's endpoint: ${await response.text()}`);
      } finally {
        device.close();
      }
    });
  });
});
