/**
 * How many frames one device socket may send (guard.framesPerSocket, guard.registrationsPerSocket;
 * docs/guard.md). Pure: the session hands it the time. Each budget is a token bucket that holds
 * `points` and refills `points` per `seconds`, so a burst of `points` is fine and the long-run
 * rate is points/seconds.
 */
import type { ClientMessage } from './messages.js';

/** `points` frames per `seconds`; points = 0: no limit. */
export interface FrameWindow {
  points: number;
  seconds: number;
}

export interface FrameBudgetOptions {
  /** Every frame: hello, acks, nacks, pings, broadcast_subscribe, register, unregister. */
  frames?: FrameWindow;
  /** register and unregister frames: each one is a store write. */
  registrations?: FrameWindow;
}

class TokenBucket {
  private tokens: number;
  private readonly perMs: number;

  constructor(
    private readonly capacity: number,
    seconds: number,
    private at: number,
  ) {
    this.tokens = capacity;
    this.perMs = capacity / (seconds * 1000);
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + Math.max(0, now - this.at) * this.perMs);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function bucket(window: FrameWindow | undefined, now: number): TokenBucket | null {
  return window && window.points > 0 ? new TokenBucket(window.points, window.seconds, now) : null;
}

export class FrameBudget {
  private readonly frames: TokenBucket | null;
  private readonly registrations: TokenBucket | null;

  constructor(options: FrameBudgetOptions, now: number) {
    this.frames = bucket(options.frames, now);
    this.registrations = bucket(options.registrations, now);
  }

  /** Takes this frame from the budgets: null when it may be handled, otherwise why not. */
  spend(messageType: ClientMessage['messageType'], now: number): string | null {
    if (this.frames && !this.frames.take(now)) return 'too many frames on this socket';
    const writes = messageType === 'register' || messageType === 'unregister';
    if (writes && this.registrations && !this.registrations.take(now)) return 'too many register/unregister frames on this socket';
    return null;
  }
}
