import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import webpush from 'web-push';
import { decryptContent, encryptContent, parseAes128gcmHeader } from '../../src/crypto/aes128gcm.js';
import { toBase64Url } from '../../src/crypto/base64.js';
import {
  decryptAes128gcm,
  decryptAesgcm,
  DecryptError,
  encryptAes128gcm,
  encryptAesgcm,
  generateAuthSecret,
  generateUaKeys,
  type UaKeys,
} from '../../src/crypto/ece.js';

const b64 = (text: string): Buffer => Buffer.from(text, 'base64url');

// RFC 8291 Appendix A.
const rfc8291 = {
  plaintext: 'When I grow up, I want to be a watermelon',
  sender: {
    publicKey: b64('BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8'),
    privateKey: b64('yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw'),
  },
  ua: {
    publicKey: b64('BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4'),
    privateKey: b64('q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94'),
  },
  authSecret: b64('BTBZMqHH6r4Tts7J_aSIgg'),
  salt: b64('DGv6ra1nlYgDCS1FRnbzlw'),
  body:
    'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6Tlz' +
    'AC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};

function subscriber(): { uaKeys: UaKeys; authSecret: Buffer } {
  return { uaKeys: generateUaKeys(), authSecret: generateAuthSecret() };
}

function flipByte(body: Buffer, index: number): Buffer {
  const copy = Buffer.from(body);
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}

describe('RFC 8291 Appendix A, the published Web Push example', () => {
  it('a device holding the example keys reads the example message', () => {
    const plaintext = decryptAes128gcm({ body: b64(rfc8291.body), uaKeys: rfc8291.ua, authSecret: rfc8291.authSecret });
    assert.equal(plaintext.toString('utf8'), rfc8291.plaintext);
  });

  it('a sender with the example key and salt produces the example body byte for byte', () => {
    const body = encryptAes128gcm({
      plaintext: Buffer.from(rfc8291.plaintext),
      uaPublicKey: rfc8291.ua.publicKey,
      authSecret: rfc8291.authSecret,
      salt: rfc8291.salt,
      senderKeys: rfc8291.sender,
    });
    assert.equal(toBase64Url(body), rfc8291.body);
  });
});

describe('RFC 8188 examples, the content coding under Web Push', () => {
  it('§3.1: a single record with an empty key id reads "I am the walrus"', () => {
    const body = b64('I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg');
    const header = parseAes128gcmHeader(body);
    assert.ok(header);
    assert.equal(header.recordSize, 4096);
    assert.equal(header.keyId.length, 0);
    assert.equal(decryptContent(body, header, b64('yqdlZ-tYemfogSmv7Ws5PQ')).toString(), 'I am the walrus');

    const again = encryptContent({
      plaintext: Buffer.from('I am the walrus'),
      ikm: b64('yqdlZ-tYemfogSmv7Ws5PQ'),
      salt: header.salt,
      keyId: Buffer.alloc(0),
      recordSize: 4096,
      paddingLength: 0,
    });
    assert.deepEqual(again, body);
  });

  it('§3.2: two 25-byte records with key id "a1" and padding in the first read back as one message', () => {
    const body = b64('uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA');
    const header = parseAes128gcmHeader(body);
    assert.ok(header);
    assert.equal(header.recordSize, 25);
    assert.equal(header.keyId.toString(), 'a1');
    assert.equal(decryptContent(body, header, b64('BO3ZVPxUlnLORbVGMpbT1Q')).toString(), 'I am the walrus');
  });

  it('§3.2 with its last record cut off is refused as truncated', () => {
    const body = b64('uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA');
    const firstRecordOnly = body.subarray(0, body.length - 25);
    const header = parseAes128gcmHeader(firstRecordOnly);
    assert.ok(header);
    assert.throws(() => decryptContent(firstRecordOnly, header, b64('BO3ZVPxUlnLORbVGMpbT1Q')), DecryptError);
  });
});

describe('aes128gcm messages between our sender and a device', () => {
  it('round-trips empty, small and maximum-size payloads', () => {
    const { uaKeys, authSecret } = subscriber();
    for (const size of [0, 1, 100, 4096 - 17]) {
      const plaintext = Buffer.alloc(size, 0x61);
      const body = encryptAes128gcm({ plaintext, uaPublicKey: uaKeys.publicKey, authSecret });
      assert.deepEqual(decryptAes128gcm({ body, uaKeys, authSecret }), plaintext, `size ${size}`);
    }
  });

  it('writes a header carrying the sender key and the record size, and strips padding on reading', () => {
    const { uaKeys, authSecret } = subscriber();
    const body = encryptAes128gcm({ plaintext: Buffer.from('hi'), uaPublicKey: uaKeys.publicKey, authSecret, paddingLength: 100, recordSize: 200 });
    const header = parseAes128gcmHeader(body);
    assert.equal(header?.recordSize, 200);
    assert.equal(header?.keyId.length, 65);
    assert.equal(header?.headerLength, 86);
    assert.equal(body.length, 86 + 2 + 1 + 100 + 16);
    assert.equal(decryptAes128gcm({ body, uaKeys, authSecret }).toString(), 'hi');
  });

  it('refuses a payload that does not fit one record', () => {
    const { uaKeys, authSecret } = subscriber();
    assert.throws(() => encryptAes128gcm({ plaintext: Buffer.alloc(4096 - 16), uaPublicKey: uaKeys.publicKey, authSecret }), RangeError);
    assert.throws(() => encryptAes128gcm({ plaintext: Buffer.alloc(10), uaPublicKey: uaKeys.publicKey, authSecret, recordSize: 17 }), RangeError);
    assert.throws(() => encryptAes128gcm({ plaintext: Buffer.alloc(1), uaPublicKey: Buffer.alloc(65, 4), authSecret }), TypeError);
  });

  it('a different device, or the right device with another auth secret, cannot read it', () => {
    const { uaKeys, authSecret } = subscriber();
    const body = encryptAes128gcm({ plaintext: Buffer.from('secret'), uaPublicKey: uaKeys.publicKey, authSecret });
    assert.throws(() => decryptAes128gcm({ body, uaKeys: generateUaKeys(), authSecret }), DecryptError);
    assert.throws(() => decryptAes128gcm({ body, uaKeys, authSecret: generateAuthSecret() }), DecryptError);
  });

  it('any altered byte or truncation makes the message unreadable with a DecryptError', () => {
    const { uaKeys, authSecret } = subscriber();
    const body = encryptAes128gcm({ plaintext: Buffer.from('integrity'), uaPublicKey: uaKeys.publicKey, authSecret });
    for (let i = 0; i < body.length; i += 1) {
      const altered = flipByte(body, i);
      if (i >= 16 && i < 20) {
        // RFC 8188 does not authenticate rs; a larger rs leaves a one-record message as it was.
        assert.equal(decryptAes128gcm({ body: altered, uaKeys, authSecret }).toString(), 'integrity', `rs byte ${i}`);
        continue;
      }
      assert.throws(() => decryptAes128gcm({ body: altered, uaKeys, authSecret }), DecryptError, `byte ${i}`);
    }
    const smallerRecords = Buffer.from(body);
    smallerRecords.writeUInt32BE(18, 16);
    assert.throws(() => decryptAes128gcm({ body: smallerRecords, uaKeys, authSecret }), DecryptError, 'rs shrunk to 18');
    for (const length of [0, 10, 21, 86, body.length - 1]) {
      assert.throws(() => decryptAes128gcm({ body: body.subarray(0, length), uaKeys, authSecret }), DecryptError, `length ${length}`);
    }
  });

  it('a record that is all padding with no delimiter is refused', () => {
    const ikm = Buffer.alloc(16, 1);
    const body = encryptContent({ plaintext: Buffer.alloc(0), ikm, salt: Buffer.alloc(16), keyId: Buffer.alloc(0), recordSize: 4096, paddingLength: 0 });
    const header = parseAes128gcmHeader(body);
    assert.ok(header);
    assert.equal(decryptContent(body, header, ikm).length, 0);
    assert.throws(() => decryptContent(body, header, Buffer.alloc(16, 2)), DecryptError);
  });
});

describe('reading the aes128gcm header', () => {
  const salt = Buffer.alloc(16, 9);
  const header = (recordSize: number, keyId: Buffer): Buffer => {
    const fixed = Buffer.alloc(21);
    salt.copy(fixed);
    fixed.writeUInt32BE(recordSize, 16);
    fixed.writeUInt8(keyId.length, 20);
    return Buffer.concat([fixed, keyId]);
  };

  it('reads salt, record size and key id', () => {
    const parsed = parseAes128gcmHeader(Buffer.concat([header(4096, Buffer.from('key')), Buffer.alloc(20)]));
    assert.deepEqual(parsed, { salt, recordSize: 4096, keyId: Buffer.from('key'), headerLength: 24 });
  });

  it('answers null for a body shorter than the header it declares, or rs below 18', () => {
    assert.equal(parseAes128gcmHeader(Buffer.alloc(0)), null);
    assert.equal(parseAes128gcmHeader(Buffer.alloc(20)), null);
    assert.equal(parseAes128gcmHeader(header(4096, Buffer.alloc(65)).subarray(0, 85)), null);
    assert.equal(parseAes128gcmHeader(header(17, Buffer.alloc(0))), null);
    assert.notEqual(parseAes128gcmHeader(header(18, Buffer.alloc(0))), null);
  });

  it('a body whose key id is not a P-256 point does not decrypt', () => {
    const { uaKeys, authSecret } = subscriber();
    assert.throws(() => decryptAes128gcm({ body: Buffer.concat([header(4096, Buffer.alloc(65, 4)), Buffer.alloc(40)]), uaKeys, authSecret }), DecryptError);
    assert.throws(() => decryptAes128gcm({ body: Buffer.concat([header(4096, Buffer.alloc(0)), Buffer.alloc(40)]), uaKeys, authSecret }), DecryptError);
  });
});

describe('the legacy aesgcm coding', () => {
  it('round-trips payloads of every record boundary shape', () => {
    const { uaKeys, authSecret } = subscriber();
    for (const size of [0, 5, 4093, 4094, 4095, 9000]) {
      const plaintext = Buffer.alloc(size, 0x62);
      const { body, salt, dh } = encryptAesgcm({ plaintext, uaPublicKey: uaKeys.publicKey, authSecret });
      assert.deepEqual(decryptAesgcm({ body, salt, dh, uaKeys, authSecret }), plaintext, `size ${size}`);
    }
  });

  it('accepts salt and dh in standard base64 with padding, or quoted', () => {
    const { uaKeys, authSecret } = subscriber();
    const { body, salt, dh } = encryptAesgcm({ plaintext: Buffer.from('legacy'), uaPublicKey: uaKeys.publicKey, authSecret });
    const standardSalt = b64(salt).toString('base64');
    const standardDh = b64(dh).toString('base64');
    assert.equal(decryptAesgcm({ body, salt: standardSalt, dh: standardDh, uaKeys, authSecret }).toString(), 'legacy');
    assert.equal(decryptAesgcm({ body, salt: `"${salt}"`, dh: `"${dh}"`, uaKeys, authSecret }).toString(), 'legacy');
  });

  it('uses the fixed salt and sender key when given, and reports them', () => {
    const { uaKeys, authSecret } = subscriber();
    const senderKeys = generateUaKeys();
    const salt = Buffer.alloc(16, 3);
    const first = encryptAesgcm({ plaintext: Buffer.from('x'), uaPublicKey: uaKeys.publicKey, authSecret, salt, senderKeys });
    const second = encryptAesgcm({ plaintext: Buffer.from('x'), uaPublicKey: uaKeys.publicKey, authSecret, salt, senderKeys });
    assert.deepEqual(first, second);
    assert.equal(first.salt, toBase64Url(salt));
    assert.equal(first.dh, toBase64Url(senderKeys.publicKey));
  });

  it('refuses altered, truncated or misaddressed messages with a DecryptError', () => {
    const { uaKeys, authSecret } = subscriber();
    const plaintext = Buffer.alloc(5000, 0x63);
    const { body, salt, dh } = encryptAesgcm({ plaintext, uaPublicKey: uaKeys.publicKey, authSecret });
    const read = (options: Partial<Parameters<typeof decryptAesgcm>[0]>): Buffer => decryptAesgcm({ body, salt, dh, uaKeys, authSecret, ...options });
    assert.throws(() => read({ body: flipByte(body, 100) }), DecryptError);
    assert.throws(() => read({ body: body.subarray(0, 4096 + 16) }), DecryptError, 'only the full first record');
    assert.throws(() => read({ body: body.subarray(0, body.length - 1) }), DecryptError);
    assert.throws(() => read({ body: Buffer.alloc(0) }), DecryptError);
    assert.throws(() => read({ authSecret: generateAuthSecret() }), DecryptError);
    assert.throws(() => read({ uaKeys: generateUaKeys() }), DecryptError);
    assert.throws(() => read({ salt: 'AAAA' }), DecryptError);
    assert.throws(() => read({ salt: 'not base64!' }), DecryptError);
    assert.throws(() => read({ dh: toBase64Url(Buffer.alloc(65, 4)) }), DecryptError);
  });
});

describe('interop: messages encrypted by the npm web-push library', () => {
  it('aes128gcm from web-push decrypts with ours', () => {
    const { uaKeys, authSecret } = subscriber();
    for (const payload of ['', 'hello from web-push', 'é'.repeat(1500)]) {
      const { cipherText } = webpush.encrypt(toBase64Url(uaKeys.publicKey), toBase64Url(authSecret), payload, 'aes128gcm');
      assert.equal(decryptAes128gcm({ body: cipherText, uaKeys, authSecret }).toString('utf8'), payload);
    }
  });

  it('aesgcm from web-push decrypts with ours, including payloads that fill a record exactly', () => {
    const { uaKeys, authSecret } = subscriber();
    for (const payload of [Buffer.from('hello, legacy'), Buffer.alloc(4094, 0x64), Buffer.alloc(4095, 0x65)]) {
      const { cipherText, salt, localPublicKey } = webpush.encrypt(toBase64Url(uaKeys.publicKey), toBase64Url(authSecret), payload, 'aesgcm');
      // @types/web-push says string, but web-push returns the ECDH public key as a Buffer.
      const dh = toBase64Url(localPublicKey as unknown as Buffer);
      const plaintext = decryptAesgcm({ body: cipherText, salt, dh, uaKeys, authSecret });
      assert.deepEqual(plaintext, payload);
    }
  });

  it('our aesgcm bodies have the record layout web-push produces for the same input', () => {
    const { uaKeys, authSecret } = subscriber();
    for (const size of [10, 4094]) {
      const payload = Buffer.alloc(size, 0x66);
      const theirs = webpush.encrypt(toBase64Url(uaKeys.publicKey), toBase64Url(authSecret), payload, 'aesgcm').cipherText;
      const ours = encryptAesgcm({ plaintext: payload, uaPublicKey: uaKeys.publicKey, authSecret }).body;
      assert.equal(ours.length, theirs.length, `size ${size}`);
    }
  });
});
