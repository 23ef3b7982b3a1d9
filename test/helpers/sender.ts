/**
 * An application server in tests: VAPID headers, encrypted bodies, POSTs, the npm `web-push`
 * library's requests, and assertions on what the sender endpoint answers.
 */
import assert from 'node:assert/strict';
import webpush from 'web-push';
import { toBase64Url } from '../../src/crypto/base64.js';
import { encryptAes128gcm, generateAuthSecret, generateUaKeys } from '../../src/crypto/ece.js';
import { signVapidJwt, vapidAuthorizationHeader } from '../../src/crypto/vapid.js';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/** `Authorization: vapid t=…, k=…` for `origin`, signed by `keys`, valid for `expiresIn` seconds. */
export function vapidHeader(origin: string, keys: VapidKeys, expiresIn = 3600): string {
  const jwt = signVapidJwt({
    audience: origin,
    subject: 'mailto:ops@example.com',
    expiresAt: Math.floor(Date.now() / 1000) + expiresIn,
    publicKey: keys.publicKey,
    privateKey: keys.privateKey,
  });
  return vapidAuthorizationHeader(jwt, keys.publicKey);
}

/** A POST to a push endpoint; TTL 60 unless `headers` gives one (`TTL: undefined` sends none). */
export async function post(url: string, headers: Record<string, string | undefined> = {}, body?: Buffer | string): Promise<Response> {
  const sent = Object.entries({ TTL: '60', ...headers }).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return fetch(url, { method: 'POST', headers: Object.fromEntries(sent), ...(body !== undefined ? { body } : {}) });
}

/** A subscription's keys, as a browser makes them, and aes128gcm bodies encrypted to them. */
export function newSubscriber(): {
  uaKeys: ReturnType<typeof generateUaKeys>;
  authSecret: Buffer;
  keys: { p256dh: string; auth: string };
  encrypt(plaintext: string | Buffer): Buffer;
} {
  const uaKeys = generateUaKeys();
  const authSecret = generateAuthSecret();
  return {
    uaKeys,
    authSecret,
    keys: { p256dh: toBase64Url(uaKeys.publicKey), auth: toBase64Url(authSecret) },
    encrypt: (plaintext) =>
      encryptAes128gcm({ plaintext: typeof plaintext === 'string' ? Buffer.from(plaintext) : plaintext, uaPublicKey: uaKeys.publicKey, authSecret }),
  };
}

/** web-push's sendNotification() speaks only https: its request details are sent with fetch. */
export async function sendWithWebPush(
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } },
  payload: string,
  options: webpush.RequestOptions,
): Promise<Response> {
  const details = webpush.generateRequestDetails(subscription, payload, options);
  return fetch(details.endpoint, {
    method: details.method,
    headers: details.headers as Record<string, string>,
    ...(details.body ? { body: details.body } : {}),
  });
}

export async function expectStatus(response: Response, status: number): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, text);
}

/** Asserts the error envelope `{code, errno, error, message, more_info}` with this status and errno. */
export async function expectError(response: Response, status: number, errno: number): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.equal(body.code, status);
  assert.equal(body.errno, errno);
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
  assert.equal(typeof body.more_info, 'string');
}

/** Asserts a 429 errno 29 with a Retry-After of at least one second; returns that many seconds. */
export async function expectLimited(response: Response): Promise<number> {
  const text = await response.text();
  assert.equal(response.status, 429, text);
  assert.equal((JSON.parse(text) as { errno: number }).errno, 29);
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${response.headers.get('retry-after')}`);
  return retryAfter;
}

export async function errnoOf(response: Response): Promise<number> {
  return (JSON.parse(await response.text()) as { errno: number }).errno;
}
