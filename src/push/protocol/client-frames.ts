/**
 * The ready state (protocol.md §1): what a device may send once its hello is answered. Each
 * handler runs its storage commands and returns the frames to answer with.
 */
import { checkSenderKey } from './sender-key.js';
import type { ClientMessage } from './messages.js';
import { ProtocolViolation } from './messages.js';
import { reply, subscribeBroadcasts, type FrameContext, type Reply } from './frame-context.js';

type Frame<T extends ClientMessage['messageType']> = Extract<ClientMessage, { messageType: T }>;

export async function register(context: FrameContext, message: Frame<'register'>): Promise<Reply> {
  const { ports, device } = context;
  const uaid = requireUaid(context);
  const channelId = message.channelID ?? ports.newChannelId();
  let senderKeyHash: Buffer | null = null;
  if (message.key !== null) {
    const checked = checkSenderKey(message.key);
    if (!checked.ok) return reply({ messageType: 'register', channelID: channelId, status: 400, error: checked.reason });
    senderKeyHash = checked.hash;
  }
  const now = ports.now();
  try {
    for (const check of context.registerChecks) {
      const refusal = await check({ uaid, channelId, senderKeyHash });
      if (refusal) return reply({ messageType: 'register', channelID: channelId, ...refusal });
    }
    await ports.store.upsertDevice(uaid, now);
    device.recorded = true;
    if (device.owner !== null && !(await ports.store.bindDeviceOwner(uaid, device.owner, now))) {
      // Only a uaid bound to someone else gets here (hello checked it), and that cannot happen
      // for a fresh one: refuse rather than hand out an endpoint under another user's device.
      return reply({ messageType: 'register', channelID: channelId, status: 500, error: 'device owner mismatch' });
    }
    if (device.pendingWakeup) await ports.wakeup?.remember(uaid, device.pendingWakeup);
    device.pendingWakeup = null;
    await ports.store.putChannel({ uaid, channelId, senderKeyHash, createdAt: now });
    device.channelKeys.set(channelId, senderKeyHash);
  } catch {
    return reply({ messageType: 'register', channelID: channelId, status: 500, error: 'storage failure' });
  }
  ports.observe?.registered?.();
  return reply({ messageType: 'register', channelID: channelId, status: 200, pushEndpoint: ports.endpointFor(uaid, channelId, senderKeyHash) });
}

export async function unregister(context: FrameContext, message: Frame<'unregister'>): Promise<Reply> {
  const uaid = requireUaid(context);
  await context.ports.store.deleteChannel(uaid, message.channelID);
  context.device.channelKeys.delete(message.channelID);
  context.outbox.settleChannel(message.channelID);
  context.ports.observe?.unregistered?.();
  // 200 even when the channel did not exist: the device's wish is fulfilled either way. The batch
  // in flight may have been all of that channel's: the drain must not wait for it.
  return { frames: [{ messageType: 'unregister', channelID: message.channelID, status: 200 }], continueDrain: true };
}

export async function ack(context: FrameContext, message: Frame<'ack'>): Promise<Reply> {
  const uaid = requireUaid(context);
  const { outbox, ports } = context;
  // The deletes of one ack frame go to storage together (a group-committing store gives them one
  // round trip) rather than one after the other; each message is settled once its delete is done.
  const deletes: Promise<void>[] = [];
  // Only a frame of several updates can name a version twice (most carry one).
  const seen = message.updates.length > 1 ? new Set<string>() : null;
  for (const update of message.updates) {
    const pending = outbox.get(update.version);
    // Acks for versions this connection never sent are ignored: they cannot touch storage. A
    // version named twice in one frame counts once, as it did when each delete was awaited.
    if (!pending || pending.channelId !== update.channelID || seen?.has(update.version)) continue;
    seen?.add(update.version);
    const settle = (): void => {
      outbox.settle(update.version);
      ports.observe?.acked?.(update.code);
      // Only code 100 is a delivery: 101 (decryption failed) and 102 (not delivered) never reached the app.
      if (pending.senderKeyHash !== null && (update.code ?? 100) === 100) {
        ports.observe?.appDelivered?.(pending.senderKeyHash, Math.max(0, ports.now() - pending.receivedAt));
      }
    };
    if (pending.stored) deletes.push(ports.store.deleteMessage(uaid, update.version).then(settle));
    else settle();
  }
  await Promise.all(deletes);
  return { frames: [], continueDrain: true };
}

/** The device could not handle the message now: it stays stored and comes again next connection. */
export function nack(context: FrameContext, message: Frame<'nack'>): Reply {
  requireUaid(context);
  context.outbox.settle(message.version);
  return { frames: [], continueDrain: true };
}

export function ping(context: FrameContext): Reply {
  const now = context.ports.now();
  const last = context.device.lastPingAt;
  if (last !== null && now - last < context.options.clientPingIntervalMs) throw new ProtocolViolation('pings are too frequent');
  context.device.lastPingAt = now;
  return reply({});
}

export function broadcastSubscribe(context: FrameContext, message: Frame<'broadcast_subscribe'>): Reply {
  const answer = subscribeBroadcasts(context, message.broadcasts);
  return Object.keys(answer).length > 0 ? reply({ messageType: 'broadcast', broadcasts: answer }) : reply();
}

function requireUaid(context: FrameContext): string {
  const uaid = context.device.uaid;
  if (uaid === null) throw new ProtocolViolation('the first message must be hello');
  return uaid;
}
