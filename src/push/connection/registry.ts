import type { DevicePresence, LocalDevices } from '../delivery/bus.js';
import type { LiveMessage, LiveSession } from '../protocol/live.js';
import type { PushSession } from '../protocol/session.js';

export type { LiveSession } from '../protocol/live.js';

const REPLACED = 'replaced by a newer connection';
/** Sessions looking at storage at once after an outage: bounds the load a recovery puts on the store. */
const RECHECK_CONCURRENCY = 16;
/** A recheck that found storage failing is tried again this much later. */
const RECHECK_RETRY_MS = 1000;

/**
 * The live sessions of this node, by uaid: one per device, the newest wins. It tells the bus
 * (presence) when this node takes or lets go of a device, so other nodes can route to it.
 */
export class SessionRegistry<S extends LiveSession = PushSession> implements LocalDevices {
  private readonly sessions = new Map<string, S>();
  private presence: DevicePresence | null = null;
  /** Devices whose session is to look at storage again, in order; at most RECHECK_CONCURRENCY at a time. */
  private readonly toRecheck = new Set<string>();
  private readonly failedRechecks = new Set<string>();
  private rechecking = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  get size(): number {
    return this.sessions.size;
  }

  /** Claims and releases from now on are reported to this presence (the bus). */
  announceTo(presence: DevicePresence): void {
    this.presence = presence;
  }

  claim(uaid: string, session: S): void {
    const previous = this.sessions.get(uaid);
    this.sessions.set(uaid, session);
    this.presence?.claimed(uaid);
    // protocol.md §1: a second socket for the same uaid replaces the first.
    if (previous && previous !== session) previous.terminate(1011, REPLACED);
  }

  release(uaid: string, session: S): void {
    if (this.sessions.get(uaid) !== session) return;
    this.sessions.delete(uaid);
    this.presence?.released(uaid);
  }

  deliverLocal(uaid: string, live: LiveMessage): boolean {
    const session = this.sessions.get(uaid);
    if (!session) return false;
    session.deliverLive(live);
    return true;
  }

  recheck(uaid: string): boolean {
    if (!this.sessions.has(uaid)) return false;
    this.toRecheck.add(uaid);
    this.pump();
    return true;
  }

  recheckAll(): void {
    for (const uaid of this.sessions.keys()) this.toRecheck.add(uaid);
    this.pump();
  }

  /** The device's newer socket is on another node, which owns its presence now: nothing to release. */
  closeReplaced(uaid: string): void {
    const session = this.sessions.get(uaid);
    if (!session) return;
    this.sessions.delete(uaid);
    session.terminate(1011, REPLACED);
  }

  forEach(visit: (session: S) => void): void {
    for (const session of this.sessions.values()) visit(session);
  }

  private pump(): void {
    for (const uaid of this.toRecheck) {
      if (this.rechecking >= RECHECK_CONCURRENCY) return;
      this.toRecheck.delete(uaid);
      const session = this.sessions.get(uaid);
      if (!session?.recheckStorage) continue;
      this.rechecking++;
      void session
        .recheckStorage()
        .then((looked) => {
          if (!looked && this.sessions.get(uaid) === session) this.retryLater(uaid);
        })
        .finally(() => {
          this.rechecking--;
          this.pump();
        });
    }
  }

  private retryLater(uaid: string): void {
    this.failedRechecks.add(uaid);
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      for (const failed of this.failedRechecks) this.toRecheck.add(failed);
      this.failedRechecks.clear();
      this.pump();
    }, RECHECK_RETRY_MS);
    this.retryTimer.unref();
  }
}
