/**
 * The blocklist on the POST path, right after VAPID: a message signed by a revoked or blocked key
 * is never accepted, whatever the VAPID cache remembers (it caches signatures, never this answer).
 *
 * v1: the subscription is fine, only this key may not send: 403 errno 27.
 * v2: the subscription is bound to that key, so no one can ever send to it again: 410 errno 27.
 * 410 is what makes senders (web-push, pywebpush, autopush-era servers) prune a subscription;
 * errno 27 tells them why.
 */
import { senderErrors } from '../../http/sender-errors.js';
import type { SenderKeyCheck } from './blocklist.js';

export async function refuseBlockedSender(check: SenderKeyCheck, keyHash: Buffer, version: 1 | 2): Promise<void> {
  let blocked: boolean;
  try {
    blocked = await check.isBlocked(keyHash);
  } catch (error) {
    throw senderErrors.error('storageUnavailable', { cause: error });
  }
  if (blocked) throw senderErrors.error(version === 2 ? 'senderRevoked' : 'senderBlocked');
}
