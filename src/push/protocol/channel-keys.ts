/**
 * Which sender key a drained message's channel is bound to, for the per-app "delivered" count at
 * its ack. Stored messages do not carry it; the channel record does. It is read once per channel
 * and connection (DeviceState.channelKeys keeps it), from the store's channel cache in the common
 * case, so a drain pays no store round trip per message.
 */
import type { DeviceStore, StoredMessage } from '../../store/types.js';

/**
 * Learns the bindings of the batch's channels this connection does not know yet; undefined (no
 * await) when it knows them all. A failed read leaves the channel unknown: its acks count nowhere,
 * and the drain goes on (stats never fail a delivery).
 */
export function learnChannelKeys(
  store: Pick<DeviceStore, 'getChannel'>,
  keys: Map<string, Buffer | null>,
  uaid: string,
  batch: readonly StoredMessage[],
): Promise<void> | undefined {
  let missing: string[] | undefined;
  for (const { channelId } of batch) {
    if (!keys.has(channelId) && !missing?.includes(channelId)) (missing ??= []).push(channelId);
  }
  if (!missing) return undefined;
  const reads = missing.map((channelId) =>
    store.getChannel(uaid, channelId).then(
      // A channel gone meanwhile (null) is bound to nothing: its messages cannot be acked anyway.
      (channel) => void keys.set(channelId, channel?.senderKeyHash ?? null),
      () => undefined,
    ),
  );
  return Promise.all(reads).then(() => undefined);
}
