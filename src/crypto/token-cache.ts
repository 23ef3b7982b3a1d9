/**
 * A small bounded cache from a string to what sealing or opening it gave, for the per-message token work
 * (AES-GCM costs several µs a call; senders post to the same endpoints again and again).
 *
 * Opened endpoint tokens: only successful opens are remembered. A token text that authenticated
 * once opens to the same contents every time (one spelling per byte string, see base64.ts), while
 * a forged one is decrypted, and refused, on every try. Each cache belongs to one KeyRing object
 * (tokens.ts keeps them in a WeakMap): a ring rebuilt without a key starts empty, so a retired
 * key's tokens stop opening at once.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly maxEntries: number) {}

  /**
   * Oldest entry out first, whatever its use: a hit costs one lookup (the keys are 100-character
   * tokens, hashed afresh on every request; LRU reordering hashed them twice more), and a hot
   * token evicted by a flood of others costs one decryption to come back.
   */
  get(key: string): T | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: T): void {
    if (this.maxEntries === 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, value);
  }
}

/** The cache of `owner` (a KeyRing), created on first use. */
export function cacheFor<K extends object, T>(caches: WeakMap<K, TokenCache<T>>, owner: K, maxEntries: number): TokenCache<T> {
  let cache = caches.get(owner);
  if (!cache) {
    cache = new TokenCache<T>(maxEntries);
    caches.set(owner, cache);
  }
  return cache;
}
