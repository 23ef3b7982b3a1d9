/**
 * The database files hold device ids, ciphertext and password hashes: Herald creates them readable
 * by its user alone, whatever the umask, and tightens ones an older Herald left readable
 * (docs/security.md, hardening row 15). `herald keys --out` writes a private key the same way.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { runHerald } from '../cli/harness.js';

function modeOf(file: string): string {
  return (statSync(file).mode & 0o777).toString(8);
}

const DATABASES = ['herald.db', 'herald.db-wal', 'herald.db-shm', 'accounts.sqlite', 'accounts.sqlite-wal', 'accounts.sqlite-shm'];

describe('file modes', () => {
  it('the SQLite databases and their -wal and -shm files are 0600 under a permissive umask', async () => {
    const before = process.umask(0o022);
    const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-modes-'));
    try {
      const running = await startHerald({}, dataDir);
      try {
        for (const file of DATABASES) {
          assert.ok(existsSync(path.join(dataDir, file)), `${file} exists while Herald runs`);
          assert.equal(modeOf(path.join(dataDir, file)), '600', file);
        }
      } finally {
        await running.stop({ keepData: true });
      }
      // Files an older Herald left 0644 are tightened at the next start.
      for (const file of ['herald.db', 'accounts.sqlite']) chmodSync(path.join(dataDir, file), 0o644);
      const again = await startHerald({}, dataDir);
      try {
        for (const file of DATABASES) assert.equal(modeOf(path.join(dataDir, file)), '600', `${file} after a restart`);
      } finally {
        await again.stop({ keepData: true });
      }
    } finally {
      process.umask(before);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('herald keys --out writes the pair 0600 and never overwrites a file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-keys-'));
    try {
      const file = path.join(dir, 'vapid.json');
      const written = await runHerald(['keys', '--out', file]);
      assert.equal(written.code, 0, written.stderr);
      assert.equal(written.stdout, '', 'the private key is not printed');
      assert.equal(modeOf(file), '600');
      const pair = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string; privateKey: string };
      assert.match(pair.privateKey, /^[A-Za-z0-9_-]{43}$/);

      const kept = path.join(dir, 'kept.json');
      writeFileSync(kept, 'the key in use');
      const refused = await runHerald(['keys', '--out', kept]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /exists and may hold a key in use/);
      assert.equal(readFileSync(kept, 'utf8'), 'the key in use');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
