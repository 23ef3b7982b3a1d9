/**
 * `herald listen` and `herald send` as a person or a script runs them, against a real Herald.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendNotification } from '../../src/client/sender.js';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { startHerald, type Running } from '../helpers/herald.js';
import { herald, Lines, PROJECT_ROOT, runHerald, tempDir, waitFor } from './harness.js';

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
    const listener = herald(['listen', '--server', running.wsUrl, '--state', stateFile, '--key', pair.publicKey]);
    const output = new Lines(listener);
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
    const listener = herald(['listen', '--server', running.wsUrl, '--state', stateFile, '--key', pair.publicKey]);
    const output = new Lines(listener);
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
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no keys/);
  });

  it('send to an endpoint whose token does not open prints the 404 and exits non-zero', async () => {
    const result = await runHerald(['send', `${running.origin}/wpush/v1/abc`, '', '--ttl', '60']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^404 .*"errno":102/);
  });

  it('send with a bad option value is a usage error', async () => {
    const result = await runHerald(['send', `${running.origin}/wpush/v1/abc`, '', '--urgency', 'urgent']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--urgency must be one of/);
    const unknown = await runHerald(['listen', '--bogus']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "herald listen: unknown option --bogus (see `herald listen --help`)\n");
  });

  it('listen refuses a damaged state file instead of overwriting its keys', async () => {
    const damaged = path.join(folder.dir, 'damaged.json');
    writeFileSync(damaged, '{"uaid": "x", "channels": ');
    const result = await runHerald(['listen', '--server', running.wsUrl, '--state', damaged]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /not valid JSON/);
    assert.equal(readFileSync(damaged, 'utf8'), '{"uaid": "x", "channels": ');
  });
});

/**
 * `herald listen … | tee listen.out`, then `head -n 1 listen.out > subscription.json`, as the
 * README's walkthrough does: the first line must be the subscription even when stored messages
 * arrive with the hello answer (they used to be printed before it).
 */
describe('herald listen through a pipe', () => {
  let running: Running;
  const folder = tempDir();
  const pair = generateVapidKeyPair();
  const vapid = { ...pair, subject: 'mailto:ops@example.com' };

  before(async () => {
    running = await startHerald();
  });
  after(async () => {
    await running.stop();
    folder.remove();
  });

  /** Runs `herald listen ARGS | tee FILE` in a shell until FILE (a new one) has `count` lines; returns them. */
  async function listenThroughTee(args: string[], count: number, file: string): Promise<string[]> {
    assert.ok(!existsSync(file), 'a file of its own, so nothing from an earlier run is read');
    const quoted = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'listen', ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`);
    const shell = spawn('sh', ['-c', `${quoted.join(' ')} | tee '${file}' > /dev/null`], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    shell.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise((resolve) => shell.on('close', resolve));
    try {
      return await waitFor(`${count} lines in ${file} (stderr: ${stderr})`, () => {
        const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : [];
        return lines.length >= count && lines;
      });
    } finally {
      // The whole pipeline (sh, herald listen, tee) is one process group: Ctrl-C reaches every part.
      if (shell.pid !== undefined) process.kill(-shell.pid, 'SIGINT');
      await closed;
    }
  }

  async function send(subscription: string, text: string): Promise<void> {
    const result = await sendNotification(JSON.parse(subscription) as { endpoint: string; keys: { p256dh: string; auth: string } }, text, { vapid, ttl: 600 });
    assert.equal(result.status, 201, result.body);
  }

  it('prints the subscription first when stored messages wait for the device, run after run', async () => {
    const state = path.join(folder.dir, 'piped-device.json');
    const out = path.join(folder.dir, 'listen.out');
    const [subscription] = await listenThroughTee(['--server', running.wsUrl, '--state', state, '--key', pair.publicKey], 1, out);
    assert.ok(subscription);
    for (let run = 1; run <= 4; run++) {
      for (let i = 1; i <= 3; i++) await send(subscription, `run ${run} message ${i}`);
      const lines = await listenThroughTee(['--server', running.wsUrl, '--state', state, '--key', pair.publicKey], 4, `${out}.${run}`);
      assert.equal(lines[0], subscription, `run ${run}: the first line is the subscription, not ${lines[0]}`);
      assert.deepEqual(lines.slice(1).sort(), [1, 2, 3].map((i) => `run ${run} message ${i}`));
    }
  });

  it('prints a new subscription first while messages for another key of the same device drain', async () => {
    const state = path.join(folder.dir, 'two-keys.json');
    const out = path.join(folder.dir, 'two-keys.out');
    const [first] = await listenThroughTee(['--server', running.wsUrl, '--state', state, '--key', pair.publicKey], 1, out);
    assert.ok(first);
    await send(first, 'waiting on the first channel');
    const other = generateVapidKeyPair();
    const lines = await listenThroughTee(['--server', running.wsUrl, '--state', state, '--key', other.publicKey], 2, `${out}.2`);
    const subscription = JSON.parse(lines[0] as string) as { endpoint: string };
    assert.notEqual(subscription.endpoint, (JSON.parse(first) as { endpoint: string }).endpoint, 'a subscription for the new key');
    assert.equal(lines[1], 'waiting on the first channel');
  });

  it('send refuses text longer than one push message carries, naming the limit', async () => {
    const subscriptionFile = path.join(folder.dir, 'subscription.json');
    const state = path.join(folder.dir, 'size-device.json');
    const [subscription] = await listenThroughTee(['--server', running.wsUrl, '--state', state], 1, path.join(folder.dir, 'size.out'));
    writeFileSync(subscriptionFile, subscription as string);
    const tooLong = await runHerald(['send', subscriptionFile, 'x'.repeat(3994)]);
    assert.equal(tooLong.code, 2);
    assert.equal(tooLong.stderr.split('\n').length, 2, `one line: ${tooLong.stderr}`);
    assert.match(tooLong.stderr, /^herald send: the text is 3994 bytes, more than one push message carries \(3993 bytes with aes128gcm\): send less/);
    const fits = await runHerald(['send', subscriptionFile, 'x'.repeat(3993)]);
    assert.equal(fits.code, 0, fits.stderr);
  });
});
