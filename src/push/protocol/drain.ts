/**
 * The drain of stored messages (protocol.md §1): from hello until storage has nothing more for the
 * device, in batches (topic messages first, then arrival order); the next batch goes out when every
 * message of the current one is acked or nacked. A device past msg_limit is reset. That decision is
 * about storage, not the socket: it is made even when the socket closed meanwhile (a device that
 * acks its msg_limit-th message and disconnects at once is still reset when more are waiting).
 */
import { cursorAfter } from '../../store/cursor.js';
import type { DrainCursor, MessageStore, StoredMessage, Urgency } from '../../store/types.js';
import type { LiveMessage } from './live.js';
import type { Outbox } from './outbox.js';

/** TTL=0 messages held back while a drain runs (they are never stored, so they wait in memory). */
const MAX_HELD_TRANSIENT = 100;

/**
 * waiting: a batch awaits acks; finished: storage is empty, live delivery takes over; reset: the
 * device went past msg_limit; stopped: the socket is gone (nothing more to decide); busy: a fetch
 * of this drain is already running.
 */
export type DrainOutcome = 'waiting' | 'finished' | 'reset' | 'stopped' | 'busy';

export interface DrainDeps {
  store: Pick<MessageStore, 'fetchMessages'>;
  now(): number;
  msgLimit: number;
  batchSize: number;
  outbox: Outbox;
  wanted(urgency: Urgency): boolean;
  /** Runs on each fetched batch before it is sent; awaited only when it returns a promise (channel-keys.ts). */
  fetched?(uaid: string, batch: readonly StoredMessage[]): Promise<void> | undefined;
}

export class Drain {
  /** From hello until storage has nothing more. */
  active = false;
  /** A live message arrived while draining: storage holds something the last fetch may have missed. */
  storageChanged = false;
  private fetching = false;
  private cursor: DrainCursor | undefined;
  private sentFromStorage = 0;
  /** TTL=0 messages that arrived mid-drain; sent after it, so a channel's order holds. */
  private held: LiveMessage[] = [];

  constructor(private readonly deps: DrainDeps) {}

  /**
   * Drains again from where the last drain stopped, with a fresh msg_limit allowance: storage may
   * hold messages whose live hand-off failed (the bus was down) while the device stayed connected.
   */
  restart(): void {
    this.active = true;
    this.sentFromStorage = 0;
  }

  /** A TTL=0 message accepted mid-drain waits behind the older stored ones. */
  hold(live: LiveMessage): void {
    this.held.push(live);
    if (this.held.length > MAX_HELD_TRANSIENT) this.held.shift();
  }

  /** The held TTL=0 messages, once the drain finished. */
  takeHeld(): LiveMessage[] {
    const held = this.held;
    this.held = [];
    return held;
  }

  /**
   * Sends batches through `send` while the socket is `open` and the outbox holds no batch. Messages
   * below the device's urgency floor are passed over (they stay stored) and do not count toward
   * msg_limit. Once the socket is gone, it runs only to decide a reset.
   */
  async run(uaid: string, open: () => boolean, send: (messages: StoredMessage[]) => void): Promise<DrainOutcome> {
    if (this.fetching) return 'busy';
    this.fetching = true;
    try {
      const { store, outbox, msgLimit, batchSize } = this.deps;
      while (this.active && outbox.batchOutstanding === 0) {
        const allowance = msgLimit - this.sentFromStorage;
        if (!open() && allowance > 0) return 'stopped';
        this.storageChanged = false;
        const limit = Math.max(1, Math.min(batchSize, allowance));
        const batch = await store.fetchMessages(uaid, { after: this.cursor, limit, now: this.deps.now() });
        const learning = this.deps.fetched?.(uaid, batch);
        if (learning) await learning;
        const toSend = batch.filter((message) => !outbox.has(message.id) && this.deps.wanted(message.urgency));
        if (allowance <= 0 && toSend.length > 0) {
          this.active = false;
          return 'reset';
        }
        if (!open()) return 'stopped';
        if (batch.length === 0) {
          if (this.storageChanged) continue;
          this.active = false;
          return 'finished';
        }
        this.cursor = cursorAfter(this.cursor, batch);
        if (toSend.length === 0) continue;
        send(toSend);
        this.sentFromStorage += toSend.length;
      }
      return 'waiting';
    } finally {
      this.fetching = false;
    }
  }
}
