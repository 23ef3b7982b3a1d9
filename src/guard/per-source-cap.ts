/**
 * At most `cap` things open at once per source (sockets, TCP connections), counted on this node:
 * open connections are a node's own resource, so the cap is per node by design.
 */
export class PerSourceCap {
  private readonly open = new Map<string, number>();

  constructor(private readonly cap: number) {}

  /** Takes one slot for this source: returns its release (safe to call twice), or null when full. */
  acquire(key: string): (() => void) | null {
    const open = this.open.get(key) ?? 0;
    if (open >= this.cap) return null;
    this.open.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}
