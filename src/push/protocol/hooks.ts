/**
 * What a device session asks of the parts around it at hello and register, as hooks: the session
 * calls them at a fixed point and acts on the answer; what they decide (wake-up policy, who a
 * token names, whether a key is blocked, how many channels a device may hold) lives with them.
 * The protocol imports none of those parts: they implement these interfaces.
 */
import type { WakeupAddress } from '../../store/types.js';
import type { WakeupAnswerFrame } from './messages.js';

/**
 * push.deviceAuth = "token": who the hello's token names (docs/security.md, threat 2). Mutual TLS
 * fills it in per socket: the certificate's device, or null without a certificate (such a socket
 * resumes only devices bound to nobody, and binds none).
 */
export interface DeviceAuthHook {
  verify(token: unknown): { ok: true; owner: string | null } | { ok: false; reason: string };
}

/**
 * devices.attestation on the device listener (docs/devices.md): the hello's `attestation` JWT,
 * judged by the attestation gate. One answer for every refusal; the gate logs and counts why.
 */
export interface AttestationHook {
  /** Never rejects: false refuses the hello, whatever was wrong. */
  admit(token: unknown): Promise<boolean>;
}

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
  answer?: WakeupAnswerFrame;
  /** An accepted address for a device not recorded yet: store it with remember() at its first register. */
  pending: WakeupAddress | null;
}

/** Herald adds (docs/wakeup.md): UDP wake-up addresses and keys, asked at hello and first register. */
export interface WakeupHook {
  /** Never rejects: a storage failure becomes a 500 answer and the hello goes on. */
  hello(request: WakeupHello): Promise<WakeupHelloResult>;
  remember(uaid: string, address: WakeupAddress): Promise<void>;
}

/** A register about to be written. */
export interface RegisterRequest {
  uaid: string;
  channelId: string;
  /** SHA-256 of the sender (VAPID) key the channel is bound to, or null. */
  senderKeyHash: Buffer | null;
}

/** Why a register is refused: the `status` and `error` of its answer. */
export interface RegisterRefusal {
  status: number;
  error: string;
}

/** Runs before a register is written; the first refusal answers it (nothing is written). */
export type RegisterCheck = (request: RegisterRequest) => Promise<RegisterRefusal | null>;
