import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, envNameFor, knownOptionPaths, loadConfig, publicOrigin, resolvePaths } from '../../src/config/load.js';
import { loadOrCreateSecrets, rotateSecret, secretsPath } from '../../src/config/secrets.js';
import { KeyRing } from '../../src/crypto/keyring.js';

const SAMPLE = path.join(import.meta.dirname, '../../herald.sample.toml');

describe('configuration', () => {
  it('the commented sample file parses and documents every option', () => {
    const config = loadConfig({ file: SAMPLE });
    assert.equal(config.server.port, 8080);
    const text = readFileSync(SAMPLE, 'utf8');
    for (const dotted of knownOptionPaths()) {
      const name = dotted.split('.').pop() as string;
      assert.match(text, new RegExp(`^#? ?${name} =|^\\[${dotted.replace('.', '\\.')}\\]`, 'm'), `${dotted} is documented in the sample`);
    }
  });

  it('precedence: defaults < file < environment < flags', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-config-'));
    try {
      const file = path.join(dir, 'herald.toml');
      writeFileSync(file, '[server]\nport = 9000\nhost = "0.0.0.0"\n[push]\nmsgLimit = 10\n');
      const config = loadConfig({
        file,
        env: { HERALD_PUSH_MSG_LIMIT: '20', HERALD_LOG_LEVEL: 'warn', PATH: '/bin' },
        overrides: { 'server.port': '9100' },
      });
      assert.equal(config.server.port, 9100);
      assert.equal(config.server.host, '0.0.0.0');
      assert.equal(config.push.msgLimit, 20);
      assert.equal(config.log.level, 'warn');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('environment names are SCREAMING_SNAKE_CASE of the option path', () => {
    assert.equal(envNameFor('push.msgLimit'), 'HERALD_PUSH_MSG_LIMIT');
    assert.equal(envNameFor('server.publicOrigin'), 'HERALD_SERVER_PUBLIC_ORIGIN');
    assert.equal(envNameFor('dataDir'), 'HERALD_DATA_DIR');
  });

  it('a bad value stops the start with a message naming the option', () => {
    assert.throws(() => loadConfig({ overrides: { 'server.port': '70000' } }), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /server\.port/);
      return true;
    });
    assert.throws(() => loadConfig({ env: { HERALD_PUSH_MSG_LIMIT: 'lots' } }), /push\.msgLimit/);
    assert.throws(() => loadConfig({ overrides: { 'server.publicOrigin': 'https://push.example.com/path' } }), /server\.publicOrigin/);
    assert.throws(() => loadConfig({ overrides: { 'push.surprise': '1' } }), /surprise/);
  });

  it('a config file that is not TOML names the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-config-'));
    try {
      const file = path.join(dir, 'broken.toml');
      writeFileSync(file, '[server\nport = ');
      assert.throws(() => loadConfig({ file }), new RegExp(file.replace(/[/.]/g, '\\$&')));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('binding every interface without a public origin stops the start, naming server.publicOrigin', () => {
    const config = loadConfig({ overrides: { 'server.host': '0.0.0.0' } });
    assert.throws(() => publicOrigin(config), /server\.publicOrigin/);
    const withOrigin = loadConfig({ overrides: { 'server.host': '0.0.0.0', 'server.publicOrigin': 'https://push.example.com' } });
    assert.equal(publicOrigin(withOrigin), 'https://push.example.com');
  });

  it('the public origin defaults to the endpoint listener and the store to the data folder', () => {
    const config = loadConfig({ overrides: { dataDir: '/var/lib/herald', 'server.endpointPort': '8443' } });
    const paths = resolvePaths(config);
    assert.equal(publicOrigin(config), 'http://127.0.0.1:8443');
    assert.equal(paths.storeUrl, 'sqlite:/var/lib/herald/herald.db');
  });
});

describe('secrets bootstrap', () => {
  it('first start generates key rings in a 0600 file; later starts read the same keys', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'herald-secrets-')), 'data');
    try {
      const first = loadOrCreateSecrets(dir);
      assert.equal(first.created, true);
      assert.equal(statSync(secretsPath(dir)).mode & 0o777, 0o600);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      const second = loadOrCreateSecrets(dir);
      assert.equal(second.created, false);
      assert.deepEqual(second.secrets, first.secrets);
    } finally {
      rmSync(path.dirname(dir), { recursive: true });
    }
  });

  it('rotation prepends a key: new tokens use it, old tokens still open', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-secrets-'));
    try {
      const before = new KeyRing(loadOrCreateSecrets(dir).secrets.endpointTokens, 'endpoint-token');
      const oldToken = before.seal(Buffer.from('subscription'));
      const id = rotateSecret(dir, 'endpointTokens');
      const after = new KeyRing(loadOrCreateSecrets(dir).secrets.endpointTokens, 'endpoint-token');
      assert.equal(after.keys[0]?.id, id);
      assert.equal(after.open(oldToken)?.toString(), 'subscription');
      assert.equal(Buffer.from(after.seal(Buffer.from('x')), 'base64url')[0], id);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('a malformed secrets file stops the start with a clear error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-secrets-'));
    try {
      writeFileSync(secretsPath(dir), '{"version":1,"endpointTokens":[]}');
      assert.throws(() => loadOrCreateSecrets(dir), /secrets file .* is malformed/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
