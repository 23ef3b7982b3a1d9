import { fromBase64Flexible } from '../../crypto/base64.js';
import { isP256PublicKey, sha256 } from '../../crypto/vapid.js';

/**
 * The `key` of a register frame: the application server's VAPID public key the new endpoint is
 * bound to. Firefox pads it with `=`; base64url and standard base64, padded or not, are accepted.
 */
export function checkSenderKey(key: string): { ok: true; hash: Buffer } | { ok: false; reason: string } {
  const bytes = fromBase64Flexible(key);
  if (!bytes) return { ok: false, reason: 'key is not base64url' };
  if (!isP256PublicKey(bytes)) return { ok: false, reason: 'key is not an uncompressed P-256 public key' };
  return { ok: true, hash: sha256(bytes) };
}
