import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadOrCreateSecrets, secretsPath } from '../../src/config/secrets.js';

describe('token server secret in secrets.json', () => {
  it('a secrets.json from before the token server gets a tokenServer key added, the other rings untouched', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-secrets-'));
    try {
      const old = { version: 1, endpointTokens: [{ id: 3, secret: randomBytes(32).toString('base64url') }], messageIds: [{ id: 1, secret: randomBytes(32).toString('base64url') }] };
      writeFileSync(secretsPath(dir), JSON.stringify(old), { mode: 0o600 });
      const { secrets } = loadOrCreateSecrets(dir);
      assert.equal(secrets.tokenServer.length, 1);
      assert.equal(secrets.tokenServer[0]?.secret.length, 32);
      const written = JSON.parse(readFileSync(secretsPath(dir), 'utf8')) as typeof old & { tokenServer: Array<{ id: number; secret: string }> };
      assert.deepEqual(written.endpointTokens, old.endpointTokens);
      assert.deepEqual(written.messageIds, old.messageIds);
      // The added key is kept: the next start reads the same one.
      assert.deepEqual(loadOrCreateSecrets(dir).secrets.tokenServer[0]?.secret, secrets.tokenServer[0]?.secret);
      assert.equal(loadOrCreateSecrets(dir).created, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
