import type { NewMessage, Store } from '../../store/types.js';
import type { Bus } from './bus.js';

/** delivered: handed to the session holding the device (its ack is still to come). */
export type Outcome = 'delivered' | 'stored' | 'dropped';

/**
 * Route-or-store for an accepted message. Everything with a TTL is persisted before the sender
 * hears 201, then handed to the device's node; the device's ack deletes it. TTL=0 is the one
 * exception (RFC 8030 §5.2): it is delivered only to a connected device and never stored.
 */
export async function acceptMessage(store: Store, bus: Bus, message: NewMessage, senderKeyHash: Buffer | null): Promise<Outcome> {
  if (message.ttl === 0) {
    const delivered = await bus.deliver(message.uaid, { message, stored: false, senderKeyHash });
    return delivered ? 'delivered' : 'dropped';
  }
  await store.saveMessage(message);
  // Once stored, a failed hand-off loses nothing: the message is drained at the next hello.
  const delivered = await bus.deliver(message.uaid, { message, stored: true, senderKeyHash }).catch(() => false);
  return delivered ? 'delivered' : 'stored';
}
