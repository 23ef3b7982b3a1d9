/**
 * Turning a `notification` frame into plaintext with the channel's keys (RFC 8291 aes128gcm, and
 * the legacy aesgcm draft Firefox still accepts). Pure: no socket, no state file.
 */
import { fromBase64Flexible } from '../crypto/base64.js';
import { decryptAes128gcm, decryptAesgcm, type UaKeys } from '../crypto/ece.js';
import type { ChannelState } from './state.js';

export interface NotificationHeaders {
  encoding?: string;
  encryption?: string;
  crypto_key?: string;
}

export class NotificationDecryptError extends Error {
  override name = 'NotificationDecryptError';
}

/** The key material of a stored channel, decoded. */
export function channelKeys(channel: ChannelState): { uaKeys: UaKeys; authSecret: Buffer } {
  const publicKey = fromBase64Flexible(channel.keys.p256dh);
  const privateKey = fromBase64Flexible(channel.keys.privateKey);
  const authSecret = fromBase64Flexible(channel.keys.auth);
  if (!publicKey || !privateKey || !authSecret) throw new NotificationDecryptError('the channel keys in the state file are not base64');
  return { uaKeys: { publicKey, privateKey }, authSecret };
}

/**
 * Decrypts a notification's `data`. No data means no payload (a "tickle"): null.
 * Throws NotificationDecryptError for anything that does not decrypt.
 */
export function decryptNotification(data: string | undefined, headers: NotificationHeaders | undefined, channel: ChannelState): Buffer | null {
  if (data === undefined || data === '') return null;
  const body = fromBase64Flexible(data);
  if (!body) throw new NotificationDecryptError('notification data is not base64url');
  const { uaKeys, authSecret } = channelKeys(channel);
  const encoding = headers?.encoding?.toLowerCase();
  try {
    if (encoding === 'aes128gcm') return decryptAes128gcm({ body, uaKeys, authSecret });
    if (encoding === 'aesgcm') {
      const salt = headerParameter(headers?.encryption, 'salt');
      const dh = headerParameter(headers?.crypto_key, 'dh');
      if (!salt || !dh) throw new NotificationDecryptError('aesgcm notification without salt (Encryption) or dh (Crypto-Key)');
      const rs = headerParameter(headers?.encryption, 'rs');
      return decryptAesgcm({ body, salt, dh, uaKeys, authSecret, ...(rs !== null ? { recordSize: Number(rs) } : {}) });
    }
  } catch (error) {
    if (error instanceof NotificationDecryptError) throw error;
    throw new NotificationDecryptError(`${encoding} payload does not decrypt: ${error instanceof Error ? error.message : String(error)}`);
  }
  throw new NotificationDecryptError(`unsupported notification encoding "${encoding ?? ''}"`);
}

/**
 * One parameter of a legacy header such as `keyid=p256dh;salt=…` or `dh=…;p256ecdsa=…`
 * (parameters separated by `;` or `,`, values possibly quoted).
 */
export function headerParameter(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(/[;,]/)) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim().toLowerCase() === name) return part.slice(index + 1).trim().replace(/^"|"$/g, '');
  }
  return null;
}
