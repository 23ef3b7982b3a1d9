/**
 * What a device session asks of the wake-up part (docs/wakeup.md). The session stays free of
 * sockets and policy: it hands over the hello's `wakeup` value and the socket's peer address, puts
 * the answer in its hello answer, and records a pending address when the device record is first
 * written (a device that never registers leaves nothing behind).
 */
import type { WakeupAddress } from '../../store/types.js';
import type { WakeupAnswer } from './answers.js';

export interface WakeupHello {
  uaid: string;
  /** The hello's `wakeup` value; undefined when the field is absent. */
  value: unknown;
  /** The socket's peer address as the server sees it (no proxy headers are trusted). */
  peerAddress: string | undefined;
  /** The device record exists (a known uaid): the address is stored at once. */
  recorded: boolean;
}

export interface WakeupHelloResult {
  /** Goes into the hello answer as `wakeup`; absent when the hello did not ask. */
  answer?: WakeupAnswer;
  /** An accepted address for a device not recorded yet: store it with remember() at its first register. */
  pending: WakeupAddress | null;
}

export interface WakeupPort {
  /** Never rejects: a storage failure becomes a 500 answer and the hello goes on. */
  hello(request: WakeupHello): Promise<WakeupHelloResult>;
  remember(uaid: string, address: WakeupAddress): Promise<void>;
}
