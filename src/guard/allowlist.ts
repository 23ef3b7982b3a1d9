/**
 * Network allowlists per listener (server.allowedNetworks): a listener whose list is not empty
 * answers only clients whose address (the peer, or the one trusted proxies forwarded) is inside
 * one of its networks. An empty list lets everyone in, as before.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type ListenerName = 'devices' | 'endpoint' | 'admin';

export type AllowedNetworks = Readonly<Record<ListenerName, readonly string[]>>;

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

export class NetworkAllowlist {
  private readonly ranges: Range[];

  constructor(entries: readonly string[]) {
    this.ranges = entries.map(toRange);
  }

  /** No network configured: the listener is open to every address. */
  get open(): boolean {
    return this.ranges.length === 0;
  }

  /** A null address (no peer address, or not one) is refused by a list that is not open. */
  allows(address: ipaddr.IPv4 | ipaddr.IPv6 | null): boolean {
    if (this.open) return true;
    if (!address) return false;
    return this.ranges.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));
  }
}

/** `10.0.0.0/8`, `fd00::/8` or a single address; IPv4-mapped IPv6 counts as the IPv4 network. */
function toRange(entry: string): Range {
  if (isIP(entry) !== 0) {
    const address = ipaddr.process(entry);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  }
  const [network, bits] = ipaddr.parseCIDR(entry);
  if (network.kind() === 'ipv6' && (network as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(network as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [network, bits];
}
