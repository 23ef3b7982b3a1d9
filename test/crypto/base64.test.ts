import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBase64Flexible, fromBase64Url, toBase64Url } from '../../src/crypto/base64.js';

const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x10]);

describe('base64 as senders and browsers actually write it', () => {
  it('writes base64url without padding', () => {
    assert.equal(toBase64Url(bytes), '-_-_ABA');
    assert.equal(toBase64Url(new Uint8Array(0)), '');
  });

  it('writes only the bytes of a view, not its whole backing buffer', () => {
    const backing = Buffer.from([1, 2, 3, 4, 5, 6]);
    assert.equal(toBase64Url(backing.subarray(2, 4)), toBase64Url(Buffer.from([3, 4])));
  });

  it('reads the same bytes from base64url and standard base64, padded or not', () => {
    for (const spelling of ['-_-_ABA', '-_-_ABA=', '+/+/ABA', '+/+/ABA=']) {
      assert.deepEqual(fromBase64Flexible(spelling), bytes, spelling);
    }
    assert.deepEqual(fromBase64Flexible('AA'), Buffer.from([0]));
    assert.deepEqual(fromBase64Flexible('AA=='), Buffer.from([0]));
    assert.deepEqual(fromBase64Flexible(''), Buffer.alloc(0));
  });

  it('refuses characters outside both alphabets', () => {
    for (const text of ['AB CD', 'AB\nCD', 'AB*D', 'ABC.', 'ÀBCD', 'AB%3D']) assert.equal(fromBase64Flexible(text), null, text);
  });

  it('refuses padding that does not complete the last quantum', () => {
    for (const text of ['AAA==', 'AA=', 'A===', '====', 'AAAA=', 'AA=A', 'AB==CD==', '=']) assert.equal(fromBase64Flexible(text), null, text);
  });

  it('refuses lengths no encoder can produce', () => {
    assert.equal(fromBase64Flexible('A'), null);
    assert.equal(fromBase64Flexible('AAAAA'), null);
  });

  it('refuses a last character with stray low bits, so one byte string has one spelling', () => {
    assert.deepEqual(fromBase64Flexible('AA'), Buffer.from([0]));
    assert.equal(fromBase64Flexible('AB'), null);
    assert.equal(fromBase64Flexible('AB=='), null);
  });

  it('reads Herald tokens only in the spelling Herald writes', () => {
    assert.deepEqual(fromBase64Url('-_-_ABA'), bytes);
    assert.equal(fromBase64Url('+/+/ABA'), null);
    assert.equal(fromBase64Url('-_-_ABA='), null);
  });
});
