/**
 * `herald listen` and `herald send` as a person or a script runs them, against a real Herald.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { startHerald, type Running } from '../helpers/herald.js';
import { heraldCommand, OutputLines, runHerald } from '../helpers/process.js';
import { tempDir } from './harness.js';

describe('the herald listen and send commands', () => {
  let running: Running;
  const folder = tempDir();
  const vapidFile = path.join(folder.dir, 'vapid.json');
  const stateFile = path.join(folder.dir, 'device.json');
  const pair = generateVapidKeyPair();

  before(async () => {
    running = await startHerald();
    writeFileSync(vapidFile, JSON.stringify({ ...pair, subject: 'mailto:ops@example.com' }));
  });
  after(async () => {
    await running.stop();
    folder.remove();
  });

  it('listen prints a subscription that send delivers to, and listen prints the message', async () => {
    const listener = heraldCommand(['listen', '--server', running.wsUrl, '--state', stateFile, '--key', pair.publicKey]);
    const output = new OutputLines(listener);
    try {
      const subscription = JSON.parse(await output.next()) as { endpoint: string; keys: { p256dh: string; auth: string } };
      assert.match(subscription.endpoint, new RegExp(`^${running.origin}/wpush/v2/`));
      assert.equal(statSync(stateFile).mode & 0o777, 0o600);
      const subscriptionFile = path.join(folder.dir, 'subscription.json');
      writeFileSync(subscriptionFile, JSON.stringify(subscription));

      const sent = await runHerald(['send', subscriptionFile, 'hello from the command line\nsecond line', '--vapid', vapidFile, '--ttl', '60']);
      assert.equal(sent.code, 0, sent.stderr);
      assert.match(sent.stdout.trim(), new RegExp(`^201 ${running.origin}/m/\\S+$`));
      assert.equal(await output.next(), 'hello from the command line\\nsecond line');

      const legacy = await runHerald(['send', subscriptionFile, 'the old way', '--vapid', vapidFile, '--encoding', 'aesgcm', '--topic', 'news', '--urgency', 'high']);
      assert.equal(legacy.code, 0, legacy.stderr);
      assert.equal(await output.next(), 'the old way');
    } finally {
      listener.kill('SIGINT');
    }
    const code = await new Promise<number | null>((resolve) => listener.on('close', (exitCode) => resolve(exitCode)));
    assert.equal(code, 0, output.stderr);
  });

  it('listen run again with the same state file prints the same subscription', async () => {
    const listener = heraldCommand(['listen', '--server', running.wsUrl, '--state', stateFile, '--key', pair.publicKey]);
    const output = new OutputLines(listener);
    try {
      const line = await output.next();
      const stored = JSON.parse(readFileSync(stateFile, 'utf8')) as { channels: Record<string, { endpoint: string }> };
      const endpoints = Object.values(stored.channels).map((channel) => channel.endpoint);
      assert.deepEqual(endpoints, [(JSON.parse(line) as { endpoint: string }).endpoint]);
    } finally {
      listener.kill('SIGINT');
    }
    await new Promise((resolve) => listener.on('close', resolve));
  });

  it('send without VAPID to a key-bound endpoint prints the 401 and exits non-zero', async () => {
    const subscriptionFile = path.join(folder.dir, 'subscription.json');
    const result = await runHerald(['send', subscriptionFile, 'unsigned', '--ttl', '60']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^401 .*"errno":109/);
  });

  it('send refuses text for a bare endpoint, since it has no keys to encrypt to', async () => {
    const result = await runHerald(['send', `${running.origin}/wpush/v1/abc`, 'secret']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no keys/);
  });

  it('send to an endpoint whose token does not open prints the 404 and exits non-zero', async () => {
    const result = await runHerald(['send', `${running.origin}/wpush/v1/abc`, '', '--ttl', '60']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^404 .*"errno":102/);
  });

  it('send with a bad option value is a usage error', async () => {
    const result = await runHerald(['send', `${running.origin}/wpush/v1/abc`, '', '--urgency', 'urgent']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--urgency must be one of/);
    const unknown = await runHerald(['listen', '--bogus']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^herald: Unknown option '--bogus'/);
  });

  it('listen refuses a damaged state file instead of overwriting its keys', async () => {
    const damaged = path.join(folder.dir, 'damaged.json');
    writeFileSync(damaged, '{"uaid": "x", "channels": ');
    const result = await runHerald(['listen', '--server', running.wsUrl, '--state', damaged]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not valid JSON/);
    assert.equal(readFileSync(damaged, 'utf8'), '{"uaid": "x", "channels": ');
  });
});
