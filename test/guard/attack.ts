/** What the guard tests share: a signing sender, POST helpers and a registered device. */
import assert from 'node:assert/strict';
import { generateVapidKeyPair, signVapidJwt, vapidAuthorizationHeader } from '../../src/crypto/vapid.js';
import { RawDevice } from '../helpers/herald.js';

type VapidKeyPair = ReturnType<typeof generateVapidKeyPair>;

export const sender = generateVapidKeyPair();

export function vapid(origin: string, keys: VapidKeyPair = sender): string {
  const jwt = signVapidJwt({
    audience: origin,
    subject: 'mailto:ops@example.com',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    publicKey: keys.publicKey,
    privateKey: keys.privateKey,
  });
  return vapidAuthorizationHeader(jwt, keys.publicKey);
}

export async function post(url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { TTL: '60', ...headers }, ...(body ? { body } : {}) });
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

export async function expectStatus(response: Response, status: number): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, text);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A connected device with one channel; returns the device and its endpoint. */
export async function subscribedDevice(wsUrl: string, channelId: string, key?: string): Promise<{ device: RawDevice; endpoint: string; uaid: string }> {
  const device = await RawDevice.connect(wsUrl);
  const uaid = await device.hello();
  const endpoint = await device.register(channelId, key);
  return { device, endpoint, uaid };
}
