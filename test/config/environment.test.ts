/**
 * Issue 10 item 17: HERALD_* variables Herald does not know are warned about, never refused.
 * Kubernetes injects HERALD_PORT=tcp://…, HERALD_SERVICE_HOST and friends into every pod of a
 * namespace with a Service named herald; a Herald that refused them could not start there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';

/** What Kubernetes sets for a Service named `herald` on port 8080. */
const KUBERNETES_SERVICE_ENV = {
  HERALD_PORT: 'tcp://10.96.0.17:8080',
  HERALD_PORT_8080_TCP: 'tcp://10.96.0.17:8080',
  HERALD_PORT_8080_TCP_ADDR: '10.96.0.17',
  HERALD_PORT_8080_TCP_PORT: '8080',
  HERALD_PORT_8080_TCP_PROTO: 'tcp',
  HERALD_SERVICE_HOST: '10.96.0.17',
  HERALD_SERVICE_PORT: '8080',
  HERALD_SERVICE_PORT_HTTP: '8080',
};

function load(env: NodeJS.ProcessEnv): { port: number; limit: number; warnings: string[] } {
  const warnings: string[] = [];
  const config = loadConfig({ env, onWarning: (message) => warnings.push(message) });
  return { port: config.server.port, limit: config.push.msgLimit, warnings };
}

describe('HERALD_* environment variables', () => {
  it("a pod beside a Service named herald starts, and Kubernetes' variables are named once as ignored", () => {
    const { port, warnings } = load({ ...KUBERNETES_SERVICE_ENV, HERALD_SERVER_PORT: '9000' });
    assert.equal(port, 9000, 'the real option still applies');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /Kubernetes service variables/);
    for (const name of Object.keys(KUBERNETES_SERVICE_ENV)) assert.ok((warnings[0] as string).includes(name), name);
  });

  it('a typo is a warning that suggests the option meant, and the default stays', () => {
    const { limit, warnings } = load({ HERALD_PUSH_MSG_LIMT: '5' });
    assert.equal(limit, 150);
    assert.deepEqual(warnings, [
      'ignoring unknown environment variable HERALD_PUSH_MSG_LIMT (did you mean HERALD_PUSH_MSG_LIMIT?); herald.sample.toml lists the options',
    ]);
  });

  it("a wrapper's own HERALD_ variable is ignored without a far-fetched suggestion", () => {
    const { warnings } = load({ HERALD_DEPLOY_ENVIRONMENT_NAME: 'staging' });
    assert.deepEqual(warnings, ['ignoring unknown environment variable HERALD_DEPLOY_ENVIRONMENT_NAME; herald.sample.toml lists the options']);
  });

  it('a known name with a bad value still stops the start, naming the option', () => {
    assert.throws(() => load({ ...KUBERNETES_SERVICE_ENV, HERALD_PUSH_MSG_LIMIT: 'lots' }), /push\.msgLimit/);
  });

  it('herald serve starts with the Kubernetes variables set and says on stderr what it ignored', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-k8s-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--data-dir', dataDir], {
      cwd: path.join(import.meta.dirname, '../..'),
      env: { ...process.env, ...KUBERNETES_SERVICE_ENV, HERALD_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const listening = new Promise<void>((resolve) => {
        const check = () => (stdout.includes('Herald listening') ? resolve() : undefined);
        child.stdout.on('data', check);
      });
      const outcome = await Promise.race([
        listening.then(() => 'listening'),
        exited.then((code) => `exited ${code}`),
        new Promise<string>((resolve) => setTimeout(() => resolve('timed out'), 20_000).unref()),
      ]);
      assert.equal(outcome, 'listening', stderr);
      assert.match(stderr, /ignoring HERALD_PORT, .*Kubernetes service variables/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
