/**
 * The standard PushSubscription JSON (the W3C Push API's `PushSubscription.toJSON()`), which is what
 * a device hands its application server and what the sender encrypts to.
 */
import { fromBase64Flexible } from '../crypto/base64.js';

export interface SubscriptionKeys {
  /** base64url of the device's 65-byte uncompressed P-256 public key. */
  p256dh: string;
  /** base64url of the 16-byte authentication secret. */
  auth: string;
}

export interface Subscription {
  endpoint: string;
  expirationTime: null;
  keys: SubscriptionKeys;
}

/** A subscription as it may arrive from elsewhere: keys may be missing (a payload-less sender). */
export interface SubscriptionInput {
  endpoint: string;
  expirationTime?: number | null;
  keys?: Partial<SubscriptionKeys> | null;
}

export class SubscriptionError extends Error {
  override name = 'SubscriptionError';
}

/** Checks untrusted JSON (a file, a request body) and returns it as a subscription input. */
export function parseSubscription(value: unknown): SubscriptionInput {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SubscriptionError('a subscription is a JSON object with an endpoint');
  }
  const record = value as Record<string, unknown>;
  if (typeof record.endpoint !== 'string' || !isHttpUrl(record.endpoint)) {
    throw new SubscriptionError('the subscription endpoint must be an http(s) URL');
  }
  const result: SubscriptionInput = { endpoint: record.endpoint };
  const keys = record.keys;
  if (keys !== undefined && keys !== null) {
    if (typeof keys !== 'object' || Array.isArray(keys)) throw new SubscriptionError('subscription keys must be an object');
    const { p256dh, auth } = keys as Record<string, unknown>;
    if (p256dh !== undefined && typeof p256dh !== 'string') throw new SubscriptionError('keys.p256dh must be a string');
    if (auth !== undefined && typeof auth !== 'string') throw new SubscriptionError('keys.auth must be a string');
    result.keys = { ...(p256dh !== undefined ? { p256dh } : {}), ...(auth !== undefined ? { auth } : {}) };
  }
  return result;
}

/** The decoded encryption keys of a subscription, or a SubscriptionError that says what is wrong. */
export function decodeSubscriptionKeys(keys: Partial<SubscriptionKeys> | null | undefined): { uaPublicKey: Buffer; authSecret: Buffer } {
  if (!keys || keys.p256dh === undefined || keys.auth === undefined) {
    throw new SubscriptionError(
      'the subscription has no keys (keys.p256dh and keys.auth): a Web Push payload must be encrypted to them (RFC 8291); send without a payload or use the full subscription JSON',
    );
  }
  const uaPublicKey = fromBase64Flexible(keys.p256dh);
  if (!uaPublicKey || uaPublicKey.length !== 65 || uaPublicKey[0] !== 0x04) {
    throw new SubscriptionError('keys.p256dh must be a base64url uncompressed P-256 public key (65 bytes)');
  }
  const authSecret = fromBase64Flexible(keys.auth);
  if (!authSecret || authSecret.length !== 16) {
    throw new SubscriptionError('keys.auth must be a base64url 16-byte secret');
  }
  return { uaPublicKey, authSecret };
}

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
