/**
 * Who may declare a wake-up address, and which addresses may be declared. Herald sends datagrams
 * to what devices tell it, so this is what stops it being used to send packets at third parties:
 * the socket must come from an allowed network, and (by default) the declared host must be the
 * socket's own peer address.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { WakeupRefusal } from './answers.js';

export interface WakeupPolicyOptions {
  /** CIDR blocks (validated by the config schema). Empty: the feature is off. */
  allowedNetworks: readonly string[];
  hostMustMatchPeer: boolean;
}

export type WakeupCheck = { ok: true; host: string; port: number } | { ok: false; reason: WakeupRefusal };

/** Ranges a datagram must never be aimed at, whatever the networks allow. */
const UNUSABLE_RANGES = new Set(['unspecified', 'multicast', 'broadcast', 'reserved']);

export class WakeupPolicy {
  private readonly networks: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

  constructor(private readonly options: WakeupPolicyOptions) {
    this.networks = options.allowedNetworks.map((block) => ipaddr.parseCIDR(block));
  }

  get enabled(): boolean {
    return this.networks.length > 0;
  }

  /** Checks a hello's `wakeup` value sent over a socket from `peerAddress`. */
  check(value: unknown, peerAddress: string | undefined): WakeupCheck {
    if (!this.enabled) return { ok: false, reason: 'off' };
    const declared = parseDeclaration(value);
    if (!declared) return { ok: false, reason: 'malformed' };
    const host = ipaddr.process(declared.host);
    if (UNUSABLE_RANGES.has(host.range())) return { ok: false, reason: 'unusableHost' };
    const peer = peerAddress !== undefined && ipaddr.isValid(peerAddress) ? ipaddr.process(peerAddress) : null;
    if (!peer || !this.allows(peer)) return { ok: false, reason: 'networkNotAllowed' };
    if (this.options.hostMustMatchPeer) {
      if (host.toString() !== peer.toString()) return { ok: false, reason: 'hostNotPeer' };
    } else if (!this.allows(host)) {
      return { ok: false, reason: 'hostNotAllowed' };
    }
    return { ok: true, host: host.toString(), port: declared.port };
  }

  private allows(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
    return this.networks.some(([network, bits]) => address.kind() === network.kind() && address.match(network, bits));
  }
}

/**
 * Exactly `{host, port}`: host an IP literal in its usual notation (node:net's strict reading, so no
 * `0x7f.1` or zone ids), never a name (Herald does not resolve device-chosen names); port 1-65535.
 */
function parseDeclaration(value: unknown): { host: string; port: number } | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== 2 || !keys.includes('host') || !keys.includes('port')) return null;
  const { host, port } = record;
  if (typeof host !== 'string' || host.length > 45 || host.includes('%') || isIP(host) === 0) return null;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}
