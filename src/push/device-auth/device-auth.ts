/**
 * push.deviceAuth = "token" (docs/security.md, threat 2): a hello must carry a service token from
 * the token server (`token` in the hello frame), and a device is bound to the token-server user it
 * first registered under. A hello naming a uaid bound to another user, or to nobody, is answered
 * with a fresh uaid: knowing a victim's uaid no longer lets anyone drain its messages.
 *
 * The token is verified with the token server's shared secret ring (secrets.json `tokenServer`),
 * so the token server may run in this process or elsewhere with the same secret.
 */
import type { RingKey } from '../../crypto/keyring.js';
import { verifyToken } from '../../crypto/service-token.js';

export type DeviceAuthResult = { ok: true; owner: string } | { ok: false; reason: string };

export interface DeviceAuthOptions {
  /** The token server's ring (all keys verify, so the secret rotates without downtime). */
  ring(): readonly RingKey[];
  /**
   * Hosts (host:port) this node answers to as a token-server node. A token assigned to another
   * node is refused, which also keeps tokens of other services (other nodes) out.
   */
  nodeHosts(): ReadonlySet<string>;
  nowSeconds(): number;
}

export class DeviceAuthenticator {
  constructor(private readonly options: DeviceAuthOptions) {}

  /** The owner a hello's `token` names; never throws, whatever the device sent. */
  verify(token: unknown): DeviceAuthResult {
    if (token === undefined || token === null) return { ok: false, reason: 'this server needs a service token in hello (token)' };
    if (typeof token !== 'string') return { ok: false, reason: 'token must be a string' };
    const verified = verifyToken(this.options.ring(), token, this.options.nowSeconds());
    if (!verified) return { ok: false, reason: 'the token is invalid or expired; get a new one from the token server' };
    const { uid, node } = verified.payload;
    if (typeof uid !== 'number' || !Number.isSafeInteger(uid) || typeof node !== 'string') {
      return { ok: false, reason: 'the token does not name a user and a node' };
    }
    const host = hostOf(node);
    if (host === null || !this.options.nodeHosts().has(host)) {
      return { ok: false, reason: 'the token is for another node; connect to its api_endpoint' };
    }
    return { ok: true, owner: ownerOfUid(uid) };
  }
}

/** The owner key a retired token-server uid had (see onUserRetired in app.ts). */
export function ownerOfUid(uid: number): string {
  return `uid:${uid}`;
}

/** host:port of a URL, with the default port of its scheme filled in; null when unparsable. */
export function hostOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    const port = parsed.port || ({ 'http:': '80', 'ws:': '80', 'https:': '443', 'wss:': '443' } as Record<string, string>)[parsed.protocol];
    return port ? `${parsed.hostname.toLowerCase()}:${port}` : null;
  } catch {
    return null;
  }
}
