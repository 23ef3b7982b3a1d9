/**
 * Key generation must never hang the process. On Node 20, generateKeyPairSync followed by a JWK
 * export deadlocks once a garbage collection lands inside the export (the export holds the key's
 * mutex; the collected key-generation job's destructor takes it again): a CI run hung for good in a
 * test that makes VAPID keys. generateP256KeyPair avoids that path; this runs it under GC pressure
 * in a child process, which the old code did not survive (it hung within the first thousand pairs).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { generateP256KeyPair } from '../../src/crypto/p256.js';

const p256 = fileURLToPath(new URL('../../src/crypto/p256.ts', import.meta.url));

it('makes thousands of P-256 key pairs under garbage-collection pressure without hanging', async () => {
  const script = `
    const { generateP256KeyPair } = await import(${JSON.stringify(p256)});
    const junk = [];
    for (let i = 0; i < 5000; i++) {
      generateP256KeyPair();
      junk.push({ i, text: String(i) });
      if (junk.length > 2000) junk.length = 0;
    }
    console.log('ok');`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 });
  assert.equal(stdout.trim(), 'ok');
});

it('makes valid pairs: a 65-byte point on the curve and a 32-byte scalar, different every time', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const { publicKey, privateKey } = generateP256KeyPair();
    assert.equal(publicKey.length, 65);
    assert.equal(publicKey[0], 0x04);
    assert.equal(privateKey.length, 32);
    const x = publicKey.subarray(1, 33).toString('base64url');
    const y = publicKey.subarray(33).toString('base64url');
    // createPublicKey refuses a point that is not on the curve.
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
    seen.add(privateKey.toString('hex'));
  }
  assert.equal(seen.size, 200);
});
