import type { ChannelRecord } from '../types.js';

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
 */
export class ChannelCache {
  private readonly devices = new Map<string, Map<string, ChannelRecord>>();

  constructor(private readonly maxDevices: number) {}

  get(uaid: string, channelId: string): ChannelRecord | undefined {
    return this.devices.get(uaid)?.get(channelId);
  }

  set(channel: ChannelRecord): void {
    if (this.maxDevices === 0) return;
    let channels = this.devices.get(channel.uaid);
    if (!channels) {
      if (this.devices.size >= this.maxDevices) {
        const oldest = this.devices.keys().next().value;
        if (oldest !== undefined) this.devices.delete(oldest);
      }
      channels = new Map();
      this.devices.set(channel.uaid, channels);
    }
    channels.set(channel.channelId, channel);
  }

  forgetChannel(uaid: string, channelId: string): void {
    const channels = this.devices.get(uaid);
    if (!channels) return;
    channels.delete(channelId);
    if (channels.size === 0) this.devices.delete(uaid);
  }

  forgetDevice(uaid: string): void {
    this.devices.delete(uaid);
  }

  clear(): void {
    this.devices.clear();
  }
}
