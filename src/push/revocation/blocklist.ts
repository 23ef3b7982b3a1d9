/**
 * The sender key blocklist as the hot paths see it: a small in-process cache in front of the
 * store's durable list, so the POST path asks storage at most once per sender key per `ttlMs`.
 *
 * Why a short TTL rather than holding the whole list: anyone can revoke a key they just generated,
 * so the list can grow without bound; a bounded cache of recent answers cannot. Why a TTL at all:
 * on PostgreSQL several nodes share the list, and `herald keys block` writes it from another
 * process on either backend; a revocation made elsewhere reaches this node within `ttlMs`. A
 * revocation made on this node takes effect here at once.
 */
import type { BlockedSenderKey, Store } from '../../store/types.js';

export interface SenderBlocklistOptions {
  /** How long an answer from storage is trusted (0: ask storage on every check). */
  ttlMs: number;
  /** Answers kept; the oldest is evicted first. */
  maxEntries: number;
  now(): number;
}

/** What the endpoint and the device session need: is this key hash refused? */
export interface SenderKeyCheck {
  /** Synchronous when the answer is cached; rejects when storage fails. */
  isBlocked(keyHash: Buffer): boolean | Promise<boolean>;
}

export class SenderBlocklist implements SenderKeyCheck {
  private readonly answers = new Map<string, { blocked: boolean; at: number }>();
  /** Concurrent misses for one key share a single storage lookup. */
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly store: Store,
    private readonly options: SenderBlocklistOptions,
  ) {}

  isBlocked(keyHash: Buffer): boolean | Promise<boolean> {
    const id = keyHash.toString('base64');
    const cached = this.answers.get(id);
    if (cached && this.options.now() - cached.at < this.options.ttlMs) return cached.blocked;
    const pending = this.inFlight.get(id);
    if (pending) return pending;
    const asked = this.options.now();
    const lookup = this.store
      .isSenderKeyBlocked(keyHash)
      .then((blocked) => {
        this.remember(id, blocked, asked);
        return blocked;
      })
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, lookup);
    return lookup;
  }

  /** Blocks the key durably, then here at once. True when it was not blocked before. */
  async block(entry: BlockedSenderKey): Promise<boolean> {
    const added = await this.store.blockSenderKey(entry);
    this.remember(entry.keyHash.toString('base64'), true, this.options.now());
    return added;
  }

  private remember(id: string, blocked: boolean, at: number): void {
    if (this.options.ttlMs <= 0 || this.options.maxEntries <= 0) return;
    // A lookup that started before a local block() must not overwrite its fresher answer.
    const current = this.answers.get(id);
    if (current && current.at > at) return;
    this.answers.delete(id);
    if (this.answers.size >= this.options.maxEntries) {
      const oldest = this.answers.keys().next().value;
      if (oldest !== undefined) this.answers.delete(oldest);
    }
    this.answers.set(id, { blocked, at });
  }
}
