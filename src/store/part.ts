/** The storage part: opens the configured store (and runs its migrations) first, closes it last. */
import type { Part } from '../server/part.js';
import { openStore, type StoreEvents } from './open-store.js';
import type { Store } from './types.js';

export class StoragePart implements Part {
  readonly name = 'storage';
  private opened: Store | undefined;

  constructor(
    private readonly url: string,
    private readonly events: StoreEvents = {},
  ) {}

  /** The open store; throws before start. */
  get store(): Store {
    if (!this.opened) throw new Error('storage is not started');
    return this.opened;
  }

  async start(): Promise<void> {
    this.opened = await openStore(this.url, this.events);
  }

  async stop(): Promise<void> {
    await this.opened?.close();
  }
}
