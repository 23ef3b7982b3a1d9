import type { LiveMessage } from '../protocol/session.js';
import type { Bus, LocalDevices } from './bus.js';

/** The single-process bus: the device is either connected to this process or not at all. */
export class LocalBus implements Bus {
  constructor(private readonly devices: LocalDevices) {}

  async deliver(uaid: string, live: LiveMessage): Promise<boolean> {
    return this.devices.deliverLocal(uaid, live);
  }

  async close(): Promise<void> {}
}
