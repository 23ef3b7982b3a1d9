/**
 * Every answer Herald gives to a hello's `wakeup` field (docs/protocol.md, "UDP wake-up"), from
 * this one table. A refused `wakeup` never fails the hello: the device stays connected and usable,
 * it just will not be woken.
 */
export const WAKEUP_REFUSALS = {
  off: { status: 403, error: 'UDP wake-up is not enabled on this server' },
  malformed: { status: 400, error: 'wakeup must be {"host": <IP address>, "port": <1-65535>}' },
  unusableHost: { status: 400, error: 'wakeup host must be a unicast address' },
  networkNotAllowed: { status: 403, error: 'wake-up is not accepted from the network this socket comes from' },
  hostNotPeer: { status: 403, error: 'wakeup host must be the address this socket comes from' },
  hostNotAllowed: { status: 403, error: 'wakeup host is outside the networks allowed for wake-up' },
  storageFailed: { status: 500, error: 'the wake-up address could not be stored; try again on the next hello' },
} as const satisfies Record<string, { status: number; error: string }>;

export type WakeupRefusal = keyof typeof WAKEUP_REFUSALS;

/** What the hello answer carries under `wakeup` (the protocol's frame type, narrowed to this table). */
export type WakeupAnswer =
  | { status: 200; keyId: number; key: string }
  | { status: (typeof WAKEUP_REFUSALS)[WakeupRefusal]['status']; error: string };

export function refusal(reason: WakeupRefusal): WakeupAnswer {
  const { status, error } = WAKEUP_REFUSALS[reason];
  return { status, error };
}
