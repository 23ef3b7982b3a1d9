/**
 * The awaiting-hello state (protocol.md §1): the one frame it takes is hello. Device
 * authentication and wake-up are hooks of it; the answer says which uaid the connection is for and
 * whether stored messages wait. The session claims the device and starts the drain only if the
 * socket is still open when the hello is decided.
 */
import type { ClientMessage } from './messages.js';
import { subscribeBroadcasts, type FrameContext, type Reply } from './frame-context.js';

type Hello = Extract<ClientMessage, { messageType: 'hello' }>;

export interface HelloReply extends Reply {
  /** Absent when the hello was refused. */
  ready?: { uaid: string; drain: boolean };
}

const UAID = /^[0-9a-f]{32}$/;

export async function hello(context: FrameContext, message: Hello): Promise<HelloReply> {
  const { ports, device } = context;
  const now = ports.now();
  let requested = message.uaid;
  if (ports.attestation && !(await ports.attestation.admit(message.attestation))) {
    return { frames: [{ messageType: 'hello', status: 401, error: 'attestation refused' }], close: { code: 1011, reason: 'attestation refused' } };
  }
  if (ports.deviceAuth) {
    const verdict = ports.deviceAuth.verify(message.token);
    if (!verdict.ok) {
      return { frames: [{ messageType: 'hello', status: 401, error: verdict.reason }], close: { code: 1011, reason: 'hello without a valid service token' } };
    }
    device.owner = verdict.owner;
    // A uaid bound to someone else (or to nobody) is treated as unknown: a fresh one, and no drain.
    if (requested !== null && (await ports.store.getDeviceOwner(requested)) !== verdict.owner) requested = null;
  }
  // Firefox drops every subscription when the answered uaid differs from the one it sent, so a
  // known device always keeps its uaid; an unknown or malformed one gets a fresh id.
  let uaid: string | null = null;
  if (requested !== null && UAID.test(requested) && (await ports.store.touchDevice(requested, now))) {
    uaid = requested;
    device.recorded = true;
    device.lastTouchAt = now;
  }
  uaid ??= ports.newUaid();
  // Before the session is ready, so no live message can overtake the hello answer meanwhile.
  const wakeup = await ports.wakeup?.hello({ uaid, value: message.wakeup, peerAddress: ports.peerAddress, recorded: device.recorded });
  device.pendingWakeup = wakeup?.pending ?? null;
  if (message.urgency) device.minUrgency = message.urgency;
  return {
    frames: [
      {
        messageType: 'hello',
        uaid,
        status: 200,
        use_webpush: true,
        broadcasts: subscribeBroadcasts(context, message.broadcasts),
        ...(wakeup?.answer ? { wakeup: wakeup.answer } : {}),
      },
    ],
    ready: { uaid, drain: device.recorded },
  };
}
