import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CsrfTokens } from '../../src/console/csrf.js';
import { generateRingKey } from '../../src/crypto/keyring.js';

const SESSION = '0123456789abcdef0123456789abcdef';
const OTHER = 'fedcba9876543210fedcba9876543210';

describe('stateless CSRF tokens', () => {
  const old = generateRingKey(1);
  const tokens = new CsrfTokens([old]);

  it('a token verifies for the session it was made for, and for no other', () => {
    const token = tokens.issue('session', SESSION);
    assert.equal(tokens.verify('session', SESSION, token), 'ok');
    assert.equal(tokens.verify('session', OTHER, token), 'invalid');
  });

  it('a pre-session token is not a session token, even for the same id', () => {
    assert.equal(tokens.verify('session', SESSION, tokens.issue('pre', SESSION)), 'invalid');
  });

  it('a token with any character changed, cut short or absent is refused', () => {
    const token = tokens.issue('session', SESSION);
    for (let at = 0; at < token.length; at += 1) {
      const swapped = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
      assert.notEqual(tokens.verify('session', SESSION, swapped), 'ok', `changed at ${at}`);
    }
    assert.equal(tokens.verify('session', SESSION, token.slice(0, -1)), 'invalid');
    assert.equal(tokens.verify('session', SESSION, undefined), 'missing');
    assert.equal(tokens.verify('session', SESSION, ['a', 'b']), 'invalid');
  });

  it('a rotated ring still accepts tokens of the old key (nobody is logged out) and signs with the new one', () => {
    const before = tokens.issue('session', SESSION);
    const rotated = new CsrfTokens([generateRingKey(2), old]);
    assert.equal(rotated.verify('session', SESSION, before), 'ok');
    const after = rotated.issue('session', SESSION);
    assert.match(after, /^v1\.2\./);
    assert.equal(tokens.verify('session', SESSION, after), 'invalid', 'a ring without key 2 cannot verify it');
  });

  it('two tokens for one session differ (a fresh nonce each time)', () => {
    assert.notEqual(tokens.issue('session', SESSION), tokens.issue('session', SESSION));
  });
});
