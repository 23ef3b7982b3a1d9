/**
 * Every comparison of a secret in accounts and the token server is constant-time. The behaviour
 * (a near-miss fails) is checked where it lives; here the source is checked so that a later edit
 * cannot swap a timingSafeEqual for `===` unnoticed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateRingKey } from '../../src/crypto/keyring.js';
import { hashSessionToken, sameTokenHash } from '../../src/accounts/session-token.js';
import { makeToken, verifyToken } from '../../src/crypto/service-token.js';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

function sources(folder: string): Array<[string, string]> {
  return readdirSync(path.join(src, folder))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => [`${folder}/${name}`, readFileSync(path.join(src, folder, name), 'utf8')]);
}

describe('timing-safe comparisons', () => {
  it('session hashes and token MACs are compared with timingSafeEqual, never with == or equals()', () => {
    const serviceToken: [string, string] = ['crypto/service-token.ts', readFileSync(path.join(src, 'crypto/service-token.ts'), 'utf8')];
    const files = [...sources('accounts'), ...sources('tokenserver'), ...sources('store'), serviceToken];
    const byName = Object.fromEntries(files);
    assert.match(byName['accounts/session-token.ts'] ?? '', /timingSafeEqual\(a, b\)/);
    assert.match(byName['crypto/service-token.ts'] ?? '', /timingSafeEqual\(expected, mac\)/);
    for (const [name, text] of files) {
      for (const [index, line] of text.split('\n').entries()) {
        // Buffer.compare / a.compare(b) returns early at the first differing byte, like ===.
        const secretish = /\b(mac|expected|tokenHash|passwordHash|secret|sessionToken|fingerprint)\b\s*(===|!==|==|!=)|(===|!==|==|!=)\s*\b(mac|expected|tokenHash|passwordHash|secret|sessionToken|fingerprint)\b|\.equals\(|\bBuffer\.compare\(|\.compare\(/;
        assert.equal(secretish.test(line), false, `${name}:${index + 1} compares a secret directly: ${line.trim()}`);
      }
    }
  });

  it('a session hash or a token differing in one bit does not match', () => {
    const token = 'ab'.repeat(32);
    const hash = hashSessionToken(token) as Buffer;
    const near = Buffer.from(hash);
    near[31] = (near[31] as number) ^ 1;
    assert.equal(sameTokenHash(hash, Buffer.from(hash)), true);
    assert.equal(sameTokenHash(hash, near), false);
    assert.equal(sameTokenHash(hash, hash.subarray(0, 31)), false);

    const ring = [generateRingKey(1)];
    const { id } = makeToken(ring, { uid: 1, node: 'wss://n/', expires: 2_000_000_000, hashed_uid: 'x' });
    const bytes = Buffer.from(id, 'base64url');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    assert.ok(verifyToken(ring, id, 1));
    assert.equal(verifyToken(ring, bytes.toString('base64url'), 1), null);
    assert.equal(verifyToken([generateRingKey(2)], id, 1), null, 'another secret does not verify it');
  });
});
