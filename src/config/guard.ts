/**
 * The `[guard]` and `[tls]` configuration sections, applied by src/guard/ (docs/guard.md explains
 * each mechanism). They live here, with the rest of the configuration, so config imports no part.
 * Defaults are safe for a public deployment and leave a loopback benchmark of 1,000 devices at
 * ~10,000 messages/s untouched: per-source limits and bans exempt loopback (`exemptLoopback`), and
 * the per-key, per-subscription and per-device limits sit above what one legitimate sender needs.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/** `points` requests per `seconds` window; points = 0 turns the limit off. */
const window = (points: number, seconds: number) =>
  z
    .object({
      points: z.number().int().min(0).default(points),
      seconds: z.number().int().min(1).max(86_400).default(seconds),
    })
    .strict()
    .prefault({});

export const network = z.string().refine((value) => {
  if (isIP(value) !== 0) return true;
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}, 'must be an IP address or a CIDR range such as 10.0.0.0/8');

export const guardSchema = z
  .object({
    /** Off: no limit, ban or cap of this section applies (the frame size limit stays). */
    enabled: z.boolean().default(true),
    /**
     * Sources on 127.0.0.0/8 and ::1 are exempt from the per-source limit, bans and the connection
     * cap (a local benchmark or a same-host sender). Behind a local reverse proxy, set
     * `trustedProxies` so the real client address is limited instead of the proxy's.
     */
    exemptLoopback: z.boolean().default(true),
    /**
     * Peers (addresses or CIDR ranges) whose X-Forwarded-For header is believed. Empty (default):
     * the header is ignored, so a client cannot pick the address it is limited under.
     */
    trustedProxies: z.array(network).default([]),
    /** IPv6 sources are grouped by this prefix (one customer usually holds a whole /64). */
    ipv6PrefixLength: z.number().int().min(32).max(128).default(64),
    /** POSTs from one source address (or IPv6 /64). */
    perSource: window(2000, 1),
    /**
     * POST /v1/keys/revoke from one source: anyone can generate keys and revoke them, and each
     * revocation is a row in the blocklist every node loads, so this is far below `perSource`.
     */
    revocationsPerSource: window(10, 3600),
    /** Token server requests (an ES256 check and a transaction each) from one source. */
    tokenRequestsPerSource: window(300, 60),
    /** POST /v1/devices/enroll and /renew from one source (docs/devices.md): each costs a CSR check and a signature. */
    enrollmentsPerSource: window(20, 600),
    /** POSTs signed by one VAPID key (its SHA-256). */
    perSenderKey: window(20_000, 1),
    /** POSTs to one subscription (uaid + channel). */
    perSubscription: window(1200, 60),
    /** POSTs to one device, all its subscriptions together (the rate its backlog may grow at). */
    perDevice: window(2400, 60),
    bans: z
      .object({
        /** Invalid VAPID signatures (401 errno 109) from one source within `windowSeconds` that ban it; 0: never. */
        invalidSignatures: z.number().int().min(0).default(20),
        /** POSTs to dead endpoints (404, 410) from one source within `windowSeconds` that ban it; 0: never. */
        deadEndpoints: z.number().int().min(0).default(500),
        windowSeconds: z.number().int().min(1).max(86_400).default(60),
        /** How long a banned source is refused (429 errno 29, Retry-After = time left). */
        coolDownSeconds: z.number().int().min(1).max(7 * 86_400).default(600),
      })
      .strict()
      .prefault({}),
    /** Open device sockets from one source address (or IPv6 /64), per node; 0: no cap. */
    maxConnectionsPerSource: z.number().int().min(0).default(100),
    /**
     * Open TCP connections (HTTP requests and WebSockets alike) from one peer address (or IPv6
     * /64) on the public listeners, per node; 0: no cap. Trusted proxies are not capped.
     */
    maxTcpConnectionsPerSource: z.number().int().min(0).default(256),
    /**
     * Frames of every kind one device socket may send: a burst of `points`, refilled at `points`
     * per `seconds`; past it the socket closes 1011. Well above Firefox at the perDevice limit
     * (one ack per message) plus a drain of msgLimit messages.
     */
    framesPerSocket: window(6000, 60),
    /**
     * register and unregister frames (each a store write) one device socket may send, same rules.
     * Above unregistering and registering again every channel of maxChannelsPerDevice at once.
     */
    registrationsPerSocket: window(600, 60),
    /** Channels one device may hold; a register beyond answers status 409. 0: no cap. */
    maxChannelsPerDevice: z.number().int().min(0).default(500),
    /**
     * Stored messages per subscription; a POST beyond answers 429 errno 29. Never more than
     * push.msgLimit, whatever is set: a drain past msgLimit resets the device, so a larger cap would
     * let one sender's backlog end every other subscription of the device. 0: only push.msgLimit.
     */
    maxStoredMessagesPerSubscription: z.number().int().min(0).default(100),
    /** Stored (undelivered) messages per device; a POST beyond answers 429 errno 29. 0: no cap. */
    maxStoredMessagesPerDevice: z.number().int().min(0).default(500),
    /** Stored payload bytes per device; a POST beyond answers 429 errno 29. 0: no cap. */
    maxStoredBytesPerDevice: z.number().int().min(0).default(2 * 1024 * 1024),
    /** Retry-After sent when a device's backlog is full (it empties when the device connects). */
    backlogRetryAfterSeconds: z.number().int().min(1).max(86_400).default(60),
  })
  .strict();

const clientCertificateMode = z.enum(['off', 'request', 'require']).default('off');

export const tlsSchema = z
  .object({
    /** PEM certificate chain file. With `key`, every listener serves HTTPS/WSS; reloaded on SIGHUP. */
    cert: z.string().min(1).nullable().default(null),
    /** PEM private key file (keep it 0600). */
    key: z.string().min(1).nullable().default(null),
    /** Strict-Transport-Security max-age sent on TLS listeners; 0 sends no header. */
    hstsMaxAgeSeconds: z.number().int().min(0).default(31_536_000),
    /**
     * Mutual TLS per public listener (docs/devices.md), against Herald's CA (`herald ca init`):
     * "off"; "request" (a certificate, when sent, must be valid; a device that sends one is bound
     * to it); "require" (no valid certificate, no connection).
     */
    clientCertificates: z
      .object({
        devices: clientCertificateMode,
        endpoint: clientCertificateMode,
      })
      .strict()
      .prefault({}),
    /**
     * Behind a TLS-terminating proxy: believe the RFC 9440 `Client-Cert` header, from peers in
     * guard.trustedProxies only (Herald checks the certificate itself all the same).
     */
    clientCertHeader: z.boolean().default(false),
    /** How long a node trusts its answer to "is this client certificate revoked?"; 0: ask storage each time. */
    clientRevocationCacheSeconds: z.number().int().min(0).max(300).default(5),
  })
  .strict()
  .refine((tls) => (tls.cert === null) === (tls.key === null), 'cert and key must be given together');

export type GuardConfig = z.output<typeof guardSchema>;
export type TlsConfig = z.output<typeof tlsSchema>;
export type LimitWindow = GuardConfig['perSource'];
