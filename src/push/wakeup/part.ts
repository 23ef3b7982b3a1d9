/**
 * The wake-up part (docs/wakeup.md): off, and touching nothing, unless push.wakeup.allowedNetworks
 * is set. When on, the push part hands hellos to it and wakes away devices through it.
 */
import type { HeraldConfig } from '../../config/schema.js';
import type { KeyRing } from '../../crypto/keyring.js';
import type { Part } from '../../server/part.js';
import type { WakeupStore } from '../../store/types.js';
import { WakeupService, type WakeupObserver } from './service.js';

export class WakeupPart implements Part {
  readonly name = 'wake-up';
  private built: WakeupService | undefined;

  constructor(
    private readonly config: HeraldConfig['push']['wakeup'],
    private readonly deps: { storage: () => WakeupStore; ring: KeyRing; now: () => number; observe: WakeupObserver },
  ) {}

  /** The service; throws before start. */
  get service(): WakeupService {
    if (!this.built) throw new Error('wake-up is not started');
    return this.built;
  }

  async start(): Promise<void> {
    const { storage, ring, now, observe } = this.deps;
    this.built = new WakeupService({ store: storage(), ring, now, observe }, this.config);
  }

  async stop(): Promise<void> {
    await this.built?.close();
  }
}
