/**
 * The application-server side: encrypt a payload to a subscription (RFC 8291), sign VAPID
 * (RFC 8292) and POST it to the push endpoint (RFC 8030). Works against any Web Push service.
 */
import { encryptAes128gcm, encryptAesgcm } from '../crypto/ece.js';
import { signVapidJwt, vapidAuthorizationHeader } from '../crypto/vapid.js';
import { decodeSubscriptionKeys, isHttpUrl, SubscriptionError, type SubscriptionInput } from './subscription.js';

export interface VapidDetails {
  /** base64url raw P-256 public key (65 bytes), as `herald keys` prints it. */
  publicKey: string;
  /** base64url raw private scalar (32 bytes). */
  privateKey: string;
  /** `mailto:` or `https:` contact for the push service operator (RFC 8292 §2.1: should be present). */
  subject?: string;
}

export type ContentEncoding = 'aes128gcm' | 'aesgcm';

export interface SendOptions {
  vapid?: VapidDetails;
  /** Seconds the push service keeps the message for an absent device; default 4 weeks (as web-push). */
  ttl?: number;
  topic?: string;
  urgency?: string;
  /** Default aes128gcm (RFC 8291); aesgcm is the legacy draft some old clients need. */
  encoding?: ContentEncoding;
}

export interface SendResult {
  status: number;
  location: string | null;
  /** The TTL the push service applied (it may cap what was asked). */
  ttl: string | null;
  body: string;
}

const DEFAULT_TTL_SECONDS = 2_419_200;
/** RFC 8292 allows up to 24 h; 12 h leaves room for clock skew on both sides. */
const VAPID_LIFETIME_SECONDS = 12 * 3600;

/**
 * Sends one push message. A non-empty payload is always encrypted; a subscription without keys
 * (or a bare endpoint) can only carry an empty message, and anything else throws SubscriptionError.
 */
export async function sendNotification(
  subscription: SubscriptionInput | string,
  payload: string | Uint8Array | null,
  options: SendOptions = {},
): Promise<SendResult> {
  const target: SubscriptionInput = typeof subscription === 'string' ? { endpoint: subscription } : subscription;
  if (!isHttpUrl(target.endpoint)) throw new SubscriptionError('the subscription endpoint must be an http(s) URL');
  const ttl = options.ttl ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 0) throw new RangeError('ttl must be a non-negative integer number of seconds');

  const headers: Record<string, string> = { TTL: String(ttl) };
  if (options.topic !== undefined) headers.Topic = options.topic;
  if (options.urgency !== undefined) headers.Urgency = options.urgency;

  const plaintext = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload === null ? null : Buffer.from(payload);
  let body: Buffer | undefined;
  if (plaintext !== null && plaintext.length > 0) {
    const { uaPublicKey, authSecret } = decodeSubscriptionKeys(target.keys);
    const encoding = options.encoding ?? 'aes128gcm';
    headers['Content-Type'] = 'application/octet-stream';
    headers['Content-Encoding'] = encoding;
    if (encoding === 'aes128gcm') {
      body = encryptAes128gcm({ plaintext, uaPublicKey, authSecret });
    } else if (encoding === 'aesgcm') {
      const encrypted = encryptAesgcm({ plaintext, uaPublicKey, authSecret });
      body = encrypted.body;
      headers.Encryption = `salt=${encrypted.salt}`;
      headers['Crypto-Key'] = `dh=${encrypted.dh}`;
    } else {
      throw new RangeError(`encoding must be aes128gcm or aesgcm, not "${String(encoding)}"`);
    }
  }

  if (options.vapid) {
    const { publicKey, privateKey, subject } = options.vapid;
    const jwt = signVapidJwt({
      audience: new URL(target.endpoint).origin,
      ...(subject !== undefined ? { subject } : {}),
      expiresAt: Math.floor(Date.now() / 1000) + VAPID_LIFETIME_SECONDS,
      publicKey,
      privateKey,
    });
    headers.Authorization = vapidAuthorizationHeader(jwt, publicKey);
  }

  const response = await fetch(target.endpoint, { method: 'POST', headers, ...(body ? { body } : {}) });
  return {
    status: response.status,
    location: response.headers.get('location'),
    ttl: response.headers.get('ttl'),
    body: await response.text(),
  };
}
