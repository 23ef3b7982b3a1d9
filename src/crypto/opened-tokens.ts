/**
 * A small LRU of endpoint tokens that opened, by their exact text. Senders post to the same
 * endpoints again and again; opening one is an AES-GCM decryption (several µs). Only successful
 * opens are remembered: a token text that authenticated once opens to the same contents every
 * time (one spelling per byte string, see base64.ts), while a forged one is decrypted, and
 * refused, on every try. The cache belongs to one KeyRing object: a ring rebuilt without a key
 * starts with an empty cache, so a retired key's tokens stop opening at once.
 */
export class OpenedTokens<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly maxEntries: number) {}

  get(token: string): T | undefined {
    const value = this.entries.get(token);
    if (value !== undefined) {
      // Most recently used goes last; the first key is the one to evict.
      this.entries.delete(token);
      this.entries.set(token, value);
    }
    return value;
  }

  set(token: string, value: T): void {
    if (this.maxEntries === 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, value);
  }
}
