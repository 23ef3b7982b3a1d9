/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a crowd of
 * devices that lost the same server does not come back in one wave, yet none waits near zero.
 */
export function backoffDelay(attempt: number, initialDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
