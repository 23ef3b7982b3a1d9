import type { ChannelRecord } from './types.js';

/**
 * Channels read by the sender endpoint on every POST, kept in memory by device.
 *
 * Exact, not a guess with a lifetime: a SQLite file is written by one Herald process, and every
 * write that can change or remove a channel (putChannel, deleteChannel, dropDevice, the idle
 * sweep) goes through the store, which drops the entries it touches when the write runs. Only
 * channels that exist are cached: a channel created by another process (a later admin tool) is
 * read from the database the first time it is asked for, and a channel removed by another
 * process still cannot take messages, because the messages table's foreign key refuses them.
 *
 * Bounded by device count; the oldest device is evicted first (a Map keeps insertion order).
 *
 * On PostgreSQL (many nodes) a channel can change through another node, which this cache does not
 * hear of: there a device's entries live at most `maxAgeMs`, and the save itself re-checks the
 * cached binding against the database (postgres/statements.ts saveMessages), so a stale entry can
 * only delay a refusal to the save (answered 410 all the same), never store a message the
 * database would refuse. A rebinding made elsewhere is seen within maxAgeMs.
 */
export class ChannelCache {
  private readonly devices = new Map<string, Map<string, ChannelRecord>>();
  /** When each device's entries were first cached (only with a maxAgeMs). */
  private readonly cachedAt = new Map<string, number>();

  constructor(
    private readonly maxDevices: number,
    private readonly maxAgeMs = Infinity,
    private readonly now: () => number = Date.now,
  ) {}

  get(uaid: string, channelId: string): ChannelRecord | undefined {
    const channels = this.devices.get(uaid);
    if (!channels) return undefined;
    if (this.maxAgeMs !== Infinity && this.now() - (this.cachedAt.get(uaid) ?? 0) >= this.maxAgeMs) {
      this.forgetDevice(uaid);
      return undefined;
    }
    return channels.get(channelId);
  }

  set(channel: ChannelRecord): void {
    if (this.maxDevices === 0) return;
    let channels = this.devices.get(channel.uaid);
    if (!channels) {
      if (this.devices.size >= this.maxDevices) {
        const oldest = this.devices.keys().next().value;
        if (oldest !== undefined) this.forgetDevice(oldest);
      }
      channels = new Map();
      this.devices.set(channel.uaid, channels);
      if (this.maxAgeMs !== Infinity) this.cachedAt.set(channel.uaid, this.now());
    }
    channels.set(channel.channelId, channel);
  }

  forgetChannel(uaid: string, channelId: string): void {
    const channels = this.devices.get(uaid);
    if (!channels) return;
    channels.delete(channelId);
    if (channels.size === 0) this.forgetDevice(uaid);
  }

  forgetDevice(uaid: string): void {
    this.devices.delete(uaid);
    this.cachedAt.delete(uaid);
  }

  clear(): void {
    this.devices.clear();
    this.cachedAt.clear();
  }
}
