/**
 * The storage part: opens the configured store (and runs its migrations) first, closes it last.
 * Before any other part starts, it checks that this node's key rings are the ones the database
 * has seen (secrets-fingerprint.ts): a node with other secrets must not answer a single endpoint.
 */
import type { Part } from '../../server/part.js';
import { openStore, type StoreEvents } from './open-store.js';
import { checkSecretsFingerprint, type KeyRings } from '../secrets-fingerprint.js';
import type { Store } from '../types.js';

export interface SecretsCheck {
  rings: KeyRings;
  /** Where secrets.json is, for the message of a node that must not start. */
  dataDir: string;
  now: () => number;
}

export class StoragePart implements Part {
  readonly name = 'storage';
  private opened: Store | undefined;

  constructor(
    private readonly url: string,
    private readonly secrets?: SecretsCheck,
    private readonly events: StoreEvents = {},
  ) {}

  /** The open store; throws before start. */
  get store(): Store {
    if (!this.opened) throw new Error('storage is not started');
    return this.opened;
  }

  async start(): Promise<void> {
    const store = await openStore(this.url, this.events);
    if (this.secrets) {
      const { rings, dataDir, now } = this.secrets;
      await checkSecretsFingerprint(store, rings, { dataDir, now: now() }).catch(async (error: unknown) => {
        await store.close();
        throw error;
      });
    }
    this.opened = store;
  }

  async stop(): Promise<void> {
    await this.opened?.close();
  }
}
