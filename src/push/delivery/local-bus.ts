import type { LiveMessage } from '../protocol/session.js';
import type { Bus, LocalDevices } from './bus.js';

/** The single-process bus: the device is either connected to this process or not at all. */
export class LocalBus implements Bus {
  readonly description = 'local';
  readonly state = 'local';

  constructor(private readonly devices: LocalDevices) {}

  async start(): Promise<void> {}

  async deliver(uaid: string, live: LiveMessage): Promise<boolean> {
    return this.devices.deliverLocal(uaid, live);
  }

  // The registry already replaces a local socket; there is no other node to tell.
  claimed(): void {}

  released(): void {}

  async close(): Promise<void> {}
}
