/**
 * Who a request or socket comes from, as the key limits, bans and caps count under: the peer
 * address (or the client address a trusted proxy forwarded), with IPv6 grouped by prefix, because
 * one customer of an ISP or cloud usually holds a whole /64 and could rotate through it.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface Source {
  /** `4:203.0.113.7` or `6:2001:db8:1:2::/64`; what limits and bans are keyed by. */
  key: string;
  /** Loopback and `exemptLoopback` is on: no per-source limit, ban or connection cap. */
  exempt: boolean;
}

export interface SourceOptions {
  exemptLoopback: boolean;
  trustedProxies: readonly string[];
  ipv6PrefixLength: number;
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Peers remembered by their address text; parsing one with ipaddr.js cost ~2 % of the POST path. */
const MAX_CACHED_PEERS = 10_000;

export class SourceResolver {
  private readonly proxies: Range[];
  /** Sources of peers that forward nothing (the usual case): the same text gives the same answer. */
  private readonly peers = new Map<string, Source>();

  constructor(private readonly options: SourceOptions) {
    this.proxies = options.trustedProxies.map((entry) => (entry.includes('/') ? ipaddr.parseCIDR(entry) : toRange(ipaddr.parse(entry))));
  }

  /**
   * `peer` is the socket's remote address; `forwardedFor` the X-Forwarded-For header, believed
   * only hop by hop from trusted proxies: the client is the rightmost address a trusted proxy did
   * not itself add.
   */
  resolve(peer: string | undefined, forwardedFor?: string | string[]): Source {
    const plain = peer !== undefined && (forwardedFor === undefined || this.proxies.length === 0);
    if (plain) {
      const known = this.peers.get(peer);
      if (known) return known;
    }
    const source = this.resolveUncached(peer, forwardedFor);
    if (plain) {
      if (this.peers.size >= MAX_CACHED_PEERS) this.peers.clear();
      this.peers.set(peer, source);
    }
    return source;
  }

  /**
   * The client's address (the peer, or the one trusted proxies forwarded), IPv4-mapped IPv6 as
   * IPv4; null when the peer address is missing or not an address.
   */
  clientAddress(peer: string | undefined, forwardedFor?: string | string[]): ipaddr.IPv4 | ipaddr.IPv6 | null {
    let address = parse(peer);
    if (address && this.proxies.length > 0 && forwardedFor !== undefined && this.isTrusted(address)) {
      const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((hop) => hop.trim());
      while (hops.length > 0) {
        const hop = parse(hops.pop());
        if (!hop) break;
        address = hop;
        if (!this.isTrusted(hop)) break;
      }
    }
    return address;
  }

  private resolveUncached(peer: string | undefined, forwardedFor?: string | string[]): Source {
    const address = this.clientAddress(peer, forwardedFor);
    if (!address) return { key: 'unknown', exempt: false };
    const exempt = this.options.exemptLoopback && address.range() === 'loopback';
    if (address.kind() === 'ipv4') return { key: `4:${address.toString()}`, exempt };
    const prefix = this.options.ipv6PrefixLength;
    const network = ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`);
    return { key: `6:${network.toString()}/${prefix}`, exempt };
  }

  /** The peer is one of trustedProxies. */
  isTrustedProxy(peer: string | undefined): boolean {
    const address = parse(peer);
    return address !== null && this.proxies.length > 0 && this.isTrusted(address);
  }

  private isTrusted(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
    return this.proxies.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));
  }
}

/** An address in either notation; IPv4-mapped IPv6 (::ffff:1.2.3.4) counts as the IPv4 address. */
function parse(text: string | undefined): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (!text) return null;
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  // node's isIP is strict: ipaddr.js alone would also take forms like `1` or `0x7f.1`.
  if (isIP(bare) === 0) return null;
  return ipaddr.process(bare);
}

function toRange(address: ipaddr.IPv4 | ipaddr.IPv6): Range {
  const normal = address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
  return [normal, normal.kind() === 'ipv4' ? 32 : 128];
}
