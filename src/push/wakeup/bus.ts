import type { Bus } from '../delivery/bus.js';
import type { WakeupService } from './service.js';

/**
 * The bus as the sender endpoint sees it, with wake-up added: when a stored message found no
 * connected session on any node (the bus answered false), the device is woken. The wake runs after
 * the answer, off the sender's path: the 201 never waits for a datagram.
 */
export function withWakeup(bus: Bus, wakeup: WakeupService): Bus {
  return {
    get description() {
      return bus.description;
    },
    get state() {
      return bus.state;
    },
    start: () => bus.start(),
    close: () => bus.close(),
    claimed: (uaid) => bus.claimed(uaid),
    released: (uaid) => bus.released(uaid),
    async deliver(uaid, live) {
      const delivered = await bus.deliver(uaid, live);
      // A TTL=0 message for an absent device is dropped: there is nothing to come back for.
      if (!delivered && live.stored) void wakeup.wake(uaid);
      return delivered;
    },
  };
}
