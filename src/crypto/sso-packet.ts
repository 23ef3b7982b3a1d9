/**
 * The sealed recovery packet of single sign-on (docs/sso.md): a 64-hex accounts session token
 * sealed with AES-256-GCM under one relying app's key. The additional data binds the packet to
 * the key's cipherId, the relying origin and the expiry, so a packet made for one app (or one
 * origin) does not open for another, and an expiry cannot be changed without breaking the tag.
 *
 * packet = "v1." + exp (epoch seconds) + "." + base64url(nonce[12] ‖ ciphertext ‖ tag[16])
 * AAD    = "herald sso v1\n" + cipherId + "\n" + origin + "\n" + exp
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './base64.js';

export const SSO_KEY_BYTES = 32;
/** A payload lives at most this long: long enough for one browser round trip, no more. */
export const SSO_PAYLOAD_LIFETIME_SECONDS = 60;
const NONCE = 12;
const TAG = 16;
const PACKET = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]+)$/;
export const CIPHER_ID = /^[0-9a-f]{16}$/;

function additionalData(cipherId: string, origin: string, exp: number): Buffer {
  return Buffer.from(`herald sso v1\n${cipherId}\n${origin}\n${exp}`, 'utf8');
}

export function sealRecoveryPacket(key: Buffer, cipherId: string, origin: string, token: string, expSeconds: number): string {
  if (key.length !== SSO_KEY_BYTES) throw new Error('an SSO key is 32 bytes');
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG });
  cipher.setAAD(additionalData(cipherId, origin, expSeconds));
  const sealed = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return `v1.${expSeconds}.${toBase64Url(Buffer.concat([nonce, sealed, cipher.getAuthTag()]))}`;
}

export type PacketFailure = 'malformed' | 'unopenable' | 'expired';

/**
 * The token and expiry of a packet sealed under `key` for `origin`, or why not. The expiry is
 * checked only after the tag: an unauthenticated expiry says nothing.
 */
export function openRecoveryPacket(
  key: Buffer,
  cipherId: string,
  origin: string,
  packet: unknown,
  nowMs: number,
): { token: string; exp: number } | PacketFailure {
  if (typeof packet !== 'string' || packet.length > 512) return 'malformed';
  const match = PACKET.exec(packet);
  const bytes = match ? fromBase64Url(match[2] as string) : null;
  if (!match || !bytes || bytes.length < NONCE + TAG + 1) return 'malformed';
  const exp = Number(match[1]);
  let token: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, NONCE), { authTagLength: TAG });
    decipher.setAAD(additionalData(cipherId, origin, exp));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG));
    token = Buffer.concat([decipher.update(bytes.subarray(NONCE, bytes.length - TAG)), decipher.final()]).toString('utf8');
  } catch {
    return 'unopenable';
  }
  const now = Math.floor(nowMs / 1000);
  // Expired, or claiming a life longer than any packet is given (a sealing side with a wrong clock).
  if (exp <= now || exp - now > SSO_PAYLOAD_LIFETIME_SECONDS + 5) return 'expired';
  return { token, exp };
}
