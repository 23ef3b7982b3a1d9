/**
 * `herald keys block|unblock` with a hash that starts with '-': base64url SHA-256 hashes do one
 * time in 64, and `keys list-blocked` prints them so, so pasting one must not read as a flag.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runBlock, runListBlocked, runUnblock } from '../../src/cli/keys-blocklist.js';

/** A 43-character base64url SHA-256 that starts with '-' (found by counting up; about 64 tries). */
function hashStartingWithDash(): string {
  for (let i = 0; ; i++) {
    const hash = createHash('sha256').update(String(i)).digest('base64url');
    if (hash.startsWith('-')) return hash;
  }
}

describe('herald keys block / unblock by hash', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-keys-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const quiet = () => {};

  it("a hash that starts with '-' is blocked, listed and unblocked like any other", async () => {
    const hash = hashStartingWithDash();
    let text = '';
    const out = (chunk: string) => (text += chunk);
    const stderr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write; // the audit lines
    try {
      assert.equal(await runBlock([hash, '--reason', 'leaked', '--data-dir', dataDir], out), 0);
      assert.equal(await runListBlocked(['--data-dir', dataDir], quiet), 0);
      assert.equal(await runUnblock([hash, '--data-dir', dataDir], out), 0);
    } finally {
      process.stderr.write = stderr;
    }
    assert.equal(text, `blocked ${hash}\nunblocked ${hash}\n`);
  });
});
