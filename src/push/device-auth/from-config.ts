/** push.deviceAuth = "token": the authenticator for tokens of the token server's "push" service on this node. */
import type { HeraldConfig } from '../../config/schema.js';
import type { RingKey } from '../../crypto/keyring.js';
import { DeviceAuthenticator, hostOf } from './device-auth.js';

/** The token-server service whose tokens devices present in hello. */
export const DEVICE_AUTH_SERVICE = 'push';

export function deviceAuthFromConfig(
  config: HeraldConfig,
  ring: () => readonly RingKey[],
  /** This node's own URLs (public origin, device URL): tokens assigned to them are accepted too. */
  ownUrls: () => string[],
  now: () => number,
): DeviceAuthenticator | null {
  if (config.push.deviceAuth !== 'token') return null;
  const configured = config.push.deviceAuthNodes.map(hostOf).filter((host): host is string => host !== null);
  return new DeviceAuthenticator({
    ring,
    nodeHosts: () => new Set([...configured, ...ownUrls().map(hostOf).filter((host): host is string => host !== null)]),
    nowSeconds: () => Math.floor(now() / 1000),
  });
}
