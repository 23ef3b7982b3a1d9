/**
 * Random bytes for the per-message hot path (message ids, token nonces), drawn from a pool.
 *
 * Each randomBytes() call enters OpenSSL's CSPRNG (and at times the kernel) for a dozen bytes:
 * several µs per call on a busy VM, twice per message. The pool is filled from the same CSPRNG
 * (randomFillSync) 4 KiB at a time and handed out in slices; no byte is ever handed out twice. A
 * full pool is replaced, not refilled, so a slice handed out earlier never changes under its holder.
 * Long-lived secrets (keys) still come straight from randomBytes.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;

let pool = Buffer.alloc(0);
let offset = 0;

function take(size: number): number {
  if (offset + size > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(Math.max(POOL_BYTES, size)));
    offset = 0;
  }
  const start = offset;
  offset += size;
  return start;
}

/** `size` fresh random bytes (a view into the pool: valid for good, never reused). */
export function pooledRandomBytes(size: number): Buffer {
  const start = take(size);
  return pool.subarray(start, start + size);
}

/** `size` fresh random bytes as lowercase hex. */
export function pooledRandomHex(size: number): string {
  const start = take(size);
  return pool.toString('hex', start, start + size);
}
