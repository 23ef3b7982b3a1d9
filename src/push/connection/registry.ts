import type { LocalDevices } from '../delivery/bus.js';
import type { LiveMessage, PushSession } from '../protocol/session.js';

/** The live sessions of this node, by uaid: one per device, the newest wins. */
export class SessionRegistry implements LocalDevices {
  private readonly sessions = new Map<string, PushSession>();

  get size(): number {
    return this.sessions.size;
  }

  claim(uaid: string, session: PushSession): void {
    const previous = this.sessions.get(uaid);
    this.sessions.set(uaid, session);
    // protocol.md §1: a second socket for the same uaid replaces the first.
    if (previous && previous !== session) previous.terminate(1011, 'replaced by a newer connection');
  }

  release(uaid: string, session: PushSession): void {
    if (this.sessions.get(uaid) === session) this.sessions.delete(uaid);
  }

  deliverLocal(uaid: string, live: LiveMessage): boolean {
    const session = this.sessions.get(uaid);
    if (!session) return false;
    session.deliverLive(live);
    return true;
  }

  forEach(visit: (session: PushSession) => void): void {
    for (const session of this.sessions.values()) visit(session);
  }
}
