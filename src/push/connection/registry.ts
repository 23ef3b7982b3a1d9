import type { DevicePresence, LocalDevices } from '../delivery/bus.js';
import type { LiveMessage, LiveSession } from '../protocol/live.js';
import type { PushSession } from '../protocol/session.js';

export type { LiveSession } from '../protocol/live.js';

const REPLACED = 'replaced by a newer connection';

/**
 * The live sessions of this node, by uaid: one per device, the newest wins. It tells the bus
 * (presence) when this node takes or lets go of a device, so other nodes can route to it.
 */
export class SessionRegistry<S extends LiveSession = PushSession> implements LocalDevices {
  private readonly sessions = new Map<string, S>();
  private presence: DevicePresence | null = null;

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
}
