import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { importJWK, jwtVerify } from 'jose';
import webpush from 'web-push';
import { fromBase64Flexible, toBase64Url } from '../../src/crypto/base64.js';
import { generateUaKeys } from '../../src/crypto/ece.js';
import {
  generateVapidKeyPair,
  isP256PublicKey,
  parseVapidHeaders,
  sha256,
  signVapidJwt,
  vapidAuthorizationHeader,
  verifyVapidJwt,
} from '../../src/crypto/vapid.js';

const origin = 'https://push.example.net';
const now = 1_700_000_000;
const keys = generateVapidKeyPair();
const publicKey = Buffer.from(keys.publicKey, 'base64url');

function jwt(overrides: { audience?: string; expiresAt?: number; subject?: string } = {}): string {
  return signVapidJwt({
    audience: overrides.audience ?? origin,
    subject: overrides.subject ?? 'mailto:ops@example.com',
    expiresAt: overrides.expiresAt ?? now + 3600,
    ...keys,
  });
}

function verify(token: string, key: Buffer = publicKey) {
  return verifyVapidJwt(token, key, { audience: origin, nowSeconds: now });
}

/** A token signed over arbitrary header and claims with our key, for crafting hostile inputs. */
function craft(header: object, claims: object): string {
  const input = `${toBase64Url(Buffer.from(JSON.stringify(header)))}.${toBase64Url(Buffer.from(JSON.stringify(claims)))}`;
  const jwk = { kty: 'EC' as const, crv: 'P-256', x: toBase64Url(publicKey.subarray(1, 33)), y: toBase64Url(publicKey.subarray(33)), d: keys.privateKey };
  const signature = sign('sha256', Buffer.from(input), { key: createPrivateKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' });
  return `${input}.${toBase64Url(signature)}`;
}

function reasonOf(result: { ok: boolean; reason?: string }): string {
  assert.equal(result.ok, false);
  return result.reason ?? '';
}

describe('VAPID keys', () => {
  it('a generated pair is a 65-byte point and a 32-byte scalar in base64url', () => {
    assert.equal(fromBase64Flexible(keys.publicKey)?.length, 65);
    assert.equal(fromBase64Flexible(keys.privateKey)?.length, 32);
    assert.ok(isP256PublicKey(publicKey));
    assert.doesNotMatch(keys.publicKey + keys.privateKey, /[=+/]/);
  });

  it('a point must be uncompressed and on the curve', () => {
    assert.equal(isP256PublicKey(Buffer.alloc(65, 4)), false);
    assert.equal(isP256PublicKey(publicKey.subarray(0, 64)), false);
    const compressedPrefix = Buffer.from(publicKey);
    compressedPrefix[0] = 0x02;
    assert.equal(isP256PublicKey(compressedPrefix), false);
    const offCurve = Buffer.from(publicKey);
    offCurve[64] = (offCurve[64] ?? 0) ^ 1;
    assert.equal(isP256PublicKey(offCurve), false);
  });

  it('sha256 hashes the raw bytes', () => {
    assert.equal(sha256(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('signing a VAPID JWT', () => {
  it('produces an ES256 JWT that jose verifies with the imported public JWK', async () => {
    const token = jwt();
    const key = await importJWK({ kty: 'EC', crv: 'P-256', x: toBase64Url(publicKey.subarray(1, 33)), y: toBase64Url(publicKey.subarray(33)) }, 'ES256');
    const { payload, protectedHeader } = await jwtVerify(token, key, { audience: origin, currentDate: new Date(now * 1000) });
    assert.deepEqual(protectedHeader, { typ: 'JWT', alg: 'ES256' });
    assert.deepEqual(payload, { aud: origin, exp: now + 3600, sub: 'mailto:ops@example.com' });
  });

  it('leaves sub out when there is no subject', () => {
    const token = signVapidJwt({ audience: origin, expiresAt: now + 60, ...keys });
    const result = verify(token);
    assert.ok(result.ok);
    assert.deepEqual(result.claims, { aud: origin, exp: now + 60 });
  });

  it('refuses a private key that does not match the public key, or a fractional expiry', () => {
    const other = generateVapidKeyPair();
    assert.throws(() => signVapidJwt({ audience: origin, expiresAt: now, publicKey: keys.publicKey, privateKey: other.privateKey }));
    assert.throws(() => signVapidJwt({ audience: origin, expiresAt: now + 0.5, ...keys }));
  });

  it('builds the RFC 8292 Authorization header', () => {
    assert.equal(vapidAuthorizationHeader('a.b.c', keys.publicKey), `vapid t=a.b.c, k=${keys.publicKey}`);
  });
});

describe('verifying a VAPID JWT', () => {
  it('accepts a fresh token for this origin and returns its claims', () => {
    assert.deepEqual(verify(jwt()), { ok: true, claims: { aud: origin, exp: now + 3600, sub: 'mailto:ops@example.com' } });
  });

  it('refuses a token for another origin, even one differing only by a trailing slash', () => {
    assert.match(reasonOf(verify(jwt({ audience: 'https://other.example' }))), /aud/);
    assert.match(reasonOf(verify(jwt({ audience: `${origin}/` }))), /aud/);
  });

  it('refuses an expired token, allowing for clock skew', () => {
    assert.match(reasonOf(verify(jwt({ expiresAt: now - 61 }))), /expired/);
    assert.match(reasonOf(verify(jwt({ expiresAt: now - 60 }))), /expired/);
    assert.equal(verify(jwt({ expiresAt: now - 30 })).ok, true);
    assert.match(reasonOf(verifyVapidJwt(jwt({ expiresAt: now }), publicKey, { audience: origin, nowSeconds: now, clockSkewSeconds: 0 })), /expired/);
  });

  it('refuses a token that lives more than 24 hours (RFC 8292 §2: no skew on that side)', () => {
    assert.match(reasonOf(verify(jwt({ expiresAt: now + 25 * 3600 }))), /ahead/);
    assert.equal(verify(jwt({ expiresAt: now + 24 * 3600 })).ok, true);
    assert.match(reasonOf(verify(jwt({ expiresAt: now + 24 * 3600 + 1 }))), /ahead/);
    assert.match(
      reasonOf(verifyVapidJwt(jwt({ expiresAt: now + 7200 }), publicKey, { audience: origin, nowSeconds: now, maxLifetimeSeconds: 3600 })),
      /ahead/,
    );
  });

  it('refuses a token signed by another key, or with any signature byte altered', () => {
    const other = Buffer.from(generateVapidKeyPair().publicKey, 'base64url');
    assert.match(reasonOf(verify(jwt(), other)), /signature/);
    const token = jwt();
    const [head, body, signature = ''] = token.split('.');
    const raw = Buffer.from(signature, 'base64url');
    raw[10] = (raw[10] ?? 0) ^ 1;
    assert.match(reasonOf(verify(`${head}.${body}.${toBase64Url(raw)}`)), /signature/);
    assert.match(reasonOf(verify(`${head}.${body}.${toBase64Url(raw.subarray(0, 63))}`)), /64 bytes/);
  });

  it('refuses claims changed after signing', () => {
    const [head, , signature] = jwt().split('.');
    const forged = toBase64Url(Buffer.from(JSON.stringify({ aud: origin, exp: now + 7200 })));
    assert.match(reasonOf(verify(`${head}.${forged}.${signature}`)), /signature/);
  });

  it('refuses alg none and HS256, even when the HMAC key is the public key', () => {
    const claims = { aud: origin, exp: now + 3600 };
    const unsigned = `${toBase64Url(Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'none' })))}.${toBase64Url(Buffer.from(JSON.stringify(claims)))}`;
    assert.match(reasonOf(verify(`${unsigned}.`)), /ES256/);
    const hsInput = `${toBase64Url(Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })))}.${toBase64Url(Buffer.from(JSON.stringify(claims)))}`;
    const hmac = createHmac('sha256', publicKey).update(hsInput).digest();
    assert.match(reasonOf(verify(`${hsInput}.${toBase64Url(hmac)}`)), /ES256/);
  });

  it('refuses well-signed tokens whose claims are malformed', () => {
    assert.match(reasonOf(verify(craft({ alg: 'ES256' }, { aud: origin }))), /exp/);
    assert.match(reasonOf(verify(craft({ alg: 'ES256' }, { aud: origin, exp: String(now + 60) }))), /exp/);
    assert.match(reasonOf(verify(craft({ alg: 'ES256' }, { exp: now + 60 }))), /aud/);
    assert.match(reasonOf(verify(craft({ alg: 'ES256' }, { aud: [origin], exp: now + 60 }))), /aud/);
    assert.match(reasonOf(verify(craft({ alg: 'ES256' }, { aud: origin, exp: now + 60, sub: 42 }))), /sub/);
    assert.match(reasonOf(verify(craft({ alg: 'ES256' }, { aud: origin, exp: now + 60, nbf: now + 600 }))), /nbf/);
    assert.match(reasonOf(verify(craft({ alg: 'ES256', crit: ['b64'] }, { aud: origin, exp: now + 60 }))), /crit/);
    assert.equal(verify(craft({ alg: 'ES256' }, { aud: origin, exp: now + 60 })).ok, true);
  });

  it('answers garbage with a reason and never throws', () => {
    const hostile: unknown[] = [
      '', '.', '..', '...', 'a.b', 'a.b.c', 'a.b.c.d', '!!!.@@@.###', `${jwt()}x`, `${jwt()}.`, 'x'.repeat(100_000),
      `${toBase64Url(Buffer.from('[]'))}.${toBase64Url(Buffer.from('{}'))}.${'A'.repeat(86)}`,
      `${toBase64Url(Buffer.from('null'))}.e30.AAAA`, `${toBase64Url(Buffer.from('{"alg":"ES256"'))}.e30.AAAA`,
      undefined, null, 42, {},
    ];
    for (const input of hostile) {
      const result = verify(input as string);
      assert.equal(result.ok, false, String(input).slice(0, 40));
    }
    assert.equal(verify(jwt(), Buffer.alloc(65, 4)).ok, false);
    assert.equal(verify(jwt(), Buffer.alloc(0)).ok, false);
  });
});

describe('reading VAPID credentials from request headers', () => {
  const token = jwt();

  it('no Authorization header means no VAPID at all', () => {
    assert.equal(parseVapidHeaders(undefined, undefined), null);
    assert.equal(parseVapidHeaders(undefined, `p256ecdsa=${keys.publicKey}`), null);
  });

  it('reads vapid t=, k= in any order, any case, with or without spaces and quotes', () => {
    const spellings = [
      `vapid t=${token}, k=${keys.publicKey}`,
      `vapid k=${keys.publicKey}, t=${token}`,
      `VAPID t=${token},k=${keys.publicKey}`,
      `Vapid   t = ${token} ,  k = ${keys.publicKey}  `,
      `vapid t="${token}", k="${keys.publicKey}"`,
      `vapid T=${token}, K=${keys.publicKey}`,
    ];
    for (const header of spellings) {
      assert.deepEqual(parseVapidHeaders(header, undefined), { ok: true, value: { jwt: token, publicKey } }, header);
    }
  });

  it('accepts the key in standard base64, padded or not', () => {
    const standard = publicKey.toString('base64');
    for (const k of [standard, standard.replace(/=+$/, ''), `${keys.publicKey}=`]) {
      const parsed = parseVapidHeaders(`vapid t=${token}, k=${k}`, undefined);
      assert.ok(parsed?.ok, k);
      assert.deepEqual(parsed.value.publicKey, publicKey);
    }
  });

  it('reads WebPush and Bearer tokens with the key from Crypto-Key, among other parameters', () => {
    const dh = toBase64Url(generateUaKeys().publicKey);
    const cryptoKeys = [
      `p256ecdsa=${keys.publicKey}`,
      `dh=${dh};p256ecdsa=${keys.publicKey}`,
      `dh="${dh}", p256ecdsa="${keys.publicKey}"`,
      `keyid=p256dh; dh=${dh} ; P256ECDSA=${publicKey.toString('base64')}`,
    ];
    for (const scheme of ['WebPush', 'webpush', 'Bearer']) {
      for (const cryptoKey of cryptoKeys) {
        assert.deepEqual(parseVapidHeaders(`${scheme} ${token}`, cryptoKey), { ok: true, value: { jwt: token, publicKey } }, `${scheme} / ${cryptoKey}`);
      }
    }
  });

  it('names the problem when the credentials are incomplete or malformed', () => {
    const offCurve = Buffer.from(publicKey);
    offCurve[64] = (offCurve[64] ?? 0) ^ 1;
    const cases: Array<[string, string | undefined, RegExp]> = [
      [`vapid t=${token}`, undefined, /k=/],
      [`vapid k=${keys.publicKey}`, undefined, /t=/],
      ['vapid', undefined, /t=/],
      [`vapid t=${token}, k=${keys.publicKey}, t=${token}`, undefined, /twice/],
      [`vapid t=${token}, k=not*base64`, undefined, /base64/],
      [`vapid t=${token}, k=${toBase64Url(publicKey.subarray(0, 33))}`, undefined, /P-256/],
      [`vapid t=${token}, k=${toBase64Url(offCurve)}`, undefined, /P-256/],
      [`vapid ${token}`, undefined, /parameter/],
      [`WebPush ${token}`, undefined, /Crypto-Key/],
      [`WebPush ${token}`, `dh=${keys.publicKey}`, /p256ecdsa/],
      [`WebPush ${token}`, `p256ecdsa=${toBase64Url(offCurve)}`, /P-256/],
      ['WebPush', `p256ecdsa=${keys.publicKey}`, /WebPush <jwt>/],
      [`Basic dXNlcjpwYXNz`, undefined, /scheme/],
      [`key=${token}`, undefined, /scheme/],
    ];
    for (const [authorization, cryptoKey, reason] of cases) {
      const parsed = parseVapidHeaders(authorization, cryptoKey);
      assert.ok(parsed && !parsed.ok, authorization);
      assert.match(parsed.reason, reason, authorization);
    }
  });
});

describe('interop: VAPID headers from the npm web-push library', () => {
  const subject = 'mailto:ops@example.com';

  for (const [label, pair] of [
    ['our keys', keys],
    ['web-push keys', webpush.generateVAPIDKeys()],
  ] as const) {
    it(`aes128gcm style (vapid t=, k=) parses and verifies, with ${label}`, () => {
      const headers = webpush.getVapidHeaders(origin, subject, pair.publicKey, pair.privateKey, 'aes128gcm');
      const parsed = parseVapidHeaders(headers.Authorization, undefined);
      assert.ok(parsed?.ok, parsed?.ok === false ? parsed.reason : 'null');
      const result = verifyVapidJwt(parsed.value.jwt, parsed.value.publicKey, { audience: origin, nowSeconds: Math.floor(Date.now() / 1000) });
      assert.ok(result.ok, result.ok ? '' : result.reason);
      assert.equal(result.claims.sub, subject);
    });

    it(`aesgcm style (WebPush + Crypto-Key p256ecdsa) parses and verifies, with ${label}`, () => {
      const headers = webpush.getVapidHeaders(origin, subject, pair.publicKey, pair.privateKey, 'aesgcm');
      assert.match(headers.Authorization, /^WebPush /);
      const parsed = parseVapidHeaders(headers.Authorization, headers['Crypto-Key']);
      assert.ok(parsed?.ok, parsed?.ok === false ? parsed.reason : 'null');
      const result = verifyVapidJwt(parsed.value.jwt, parsed.value.publicKey, { audience: origin, nowSeconds: Math.floor(Date.now() / 1000) });
      assert.ok(result.ok, result.ok ? '' : result.reason);
    });
  }

  it('a JWT we sign with web-push’s keys verifies, and web-push’s JWT for another origin does not', () => {
    const pair = webpush.generateVAPIDKeys();
    const ours = signVapidJwt({ audience: origin, expiresAt: now + 60, ...pair });
    assert.equal(verifyVapidJwt(ours, Buffer.from(pair.publicKey, 'base64url'), { audience: origin, nowSeconds: now }).ok, true);
    const theirs = webpush.getVapidHeaders('https://elsewhere.example', subject, pair.publicKey, pair.privateKey, 'aes128gcm');
    const parsed = parseVapidHeaders(theirs.Authorization, undefined);
    assert.ok(parsed?.ok);
    const result = verifyVapidJwt(parsed.value.jwt, parsed.value.publicKey, { audience: origin, nowSeconds: Math.floor(Date.now() / 1000) });
    assert.equal(result.ok, false);
  });
});
