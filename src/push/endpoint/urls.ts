/**
 * The push endpoint URLs Herald hands out (register answers) and the message URLs it answers with
 * (Location). Both carry the public origin, which VAPID `aud` must equal.
 */
import type { KeyRing } from '../../crypto/keyring.js';
import { sealEndpointToken } from '../../crypto/tokens.js';

export class EndpointUrls {
  constructor(
    private readonly ring: KeyRing,
    /** Read per call: a port-0 listener knows its origin only once bound. */
    readonly origin: () => string,
  ) {}

  /** v2 (bound to that sender key) when a key hash is given, else v1. */
  pushEndpoint(uaid: string, channelId: string, senderKeyHash: Buffer | null): string {
    const { version, token } = sealEndpointToken(this.ring, { uaid, channelId, senderKeyHash });
    return `${this.origin()}/wpush/v${version}/${token}`;
  }
}
