/**
 * What stops `herald serve` before it serves, said in one line with what to do: a busy port, an
 * unknown store scheme, a bad option value. A stack trace only with --log-level debug.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runHerald, tempDir } from './harness.js';

describe('herald serve refusing to start', () => {
  const folder = tempDir();
  let busy: Server;
  let port: number;

  before(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => busy.close(resolve));
    folder.remove();
  });

  it('a busy port: which address, that it is in use, and how to choose another (exit 1)', async () => {
    const result = await runHerald(['serve', '--port', String(port), '--data-dir', folder.dir]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `herald: cannot listen on 127.0.0.1:${port}: the port is in use (another Herald?); stop that process or choose another port (--port, --endpoint-port, --admin-port, or server.* in the configuration)\n`,
    );
  });

  it('the same with --log-level debug also prints where it happened', async () => {
    const result = await runHerald(['serve', '--port', String(port), '--data-dir', folder.dir, '--log-level', 'debug']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /EADDRINUSE/);
    assert.match(result.stderr, /\n {4}at /, 'a stack trace');
  });

  it('an unknown store scheme: what is supported and which option to set (exit 2: a restart cannot fix it)', async () => {
    const result = await runHerald(['serve', '--port', '0', '--data-dir', folder.dir, '--set', 'store.url=mysql://db/herald']);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'herald: unsupported store scheme "mysql:"; this Herald supports sqlite: and postgres:; set store.url (or HERALD_STORE_URL) to sqlite:FILE or postgres://…\n',
    );
  });

  it('a bad option value names the option (exit 2)', async () => {
    const result = await runHerald(['serve', '--port', 'eighty', '--data-dir', folder.dir]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
    assert.match(result.stderr, /^herald: server\.port: /);
  });
});
