import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { devicesSchema } from './devices.js';
import { guardSchema, network, tlsSchema } from './guard.js';

/**
 * Every option Herald reads, with its default. `herald.sample.toml` documents each one where it is
 * set; keep the two in step (test/config/config.test.ts checks that the sample parses and names
 * every key).
 */

const port = z.number().int().min(0).max(65535);
const seconds = z.number().int().min(1);

const origin = z
  .string()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && !url.search && !url.hash;
    } catch {
      return false;
    }
  }, 'must be an origin such as https://push.example.com (scheme, host, optional port; no path)')
  .transform((value) => new URL(value).origin);

const serverSchema = z
  .object({
    /** Address the listeners bind to. Loopback by default: exposing Herald is a deliberate choice. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Port of the device WebSocket (and of the sender endpoint when endpointPort is unset). */
    port: port.default(8080),
    /** A separate port for the sender endpoint (POST /wpush/...); unset: same as `port`. */
    endpointPort: port.nullable().default(null),
    /** The operators' listener: /metrics and the admin routes (bans, …). Unset: no admin listener. */
    adminPort: port.nullable().default(null),
    /** Address the admin listener binds to. */
    adminHost: z.string().min(1).default('127.0.0.1'),
    /**
     * The origin that push endpoint URLs carry and that VAPID `aud` must equal. Unset: derived from
     * host and the endpoint port (http://host:port).
     */
    publicOrigin: origin.nullable().default(null),
    /**
     * Without an admin listener, /metrics is served on the device port only to requests carrying
     * `Authorization: Bearer <this token>` (at least 32 characters). Unset: not served there at all.
     */
    /**
     * A request must arrive whole (headers and body) within this many seconds, or its socket is
     * closed: a client that sends headers and then stalls cannot hold a connection for ever.
     */
    requestTimeoutSeconds: z.number().int().min(1).max(600).default(10),
    /** An HTTP connection with no traffic for this long is closed (WebSockets have their own pings). */
    idleTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
    metricsToken: z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32)').nullable().default(null),
    /**
     * Per listener, the client networks (CIDR or single addresses, IPv4/IPv6) it answers; the
     * client address is resolved through guard.trustedProxies. Empty: every address.
     */
    allowedNetworks: z
      .object({
        devices: z.array(network).default([]),
        endpoint: z.array(network).default([]),
        admin: z.array(network).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** A CIDR block such as 10.0.0.0/8 or fd00::/8 (ipaddr.js reads it the way the wake-up policy does). */
const cidr = z.string().refine((value) => {
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}, 'must be a CIDR block such as 192.168.0.0/16 or fd00::/8');

/** Herald adds (docs/wakeup.md): UDP wake-up of devices that hold no socket open. */
const wakeupSchema = z
  .object({
    /**
     * Devices connecting from these networks may declare a UDP wake-up address in hello. Empty
     * (the default): the feature is off and no datagram is ever sent.
     */
    allowedNetworks: z.array(cidr).default([]),
    /**
     * The declared host must be the socket's peer address, so Herald cannot be told to send
     * datagrams to a third party. Turn off only when devices sit behind a proxy you trust; the host
     * must then still be inside allowedNetworks.
     */
    hostMustMatchPeer: z.boolean().default(true),
    /** At most one datagram per device per this many seconds (per node). */
    minIntervalSeconds: seconds.default(30),
  })
  .strict();

const pushSchema = z
  .object({
    /** The first frame must be a hello within this time, or the socket closes 1011. */
    helloTimeoutMs: z.number().int().min(100).default(5000),
    /** A client ping faster than this after the previous one closes the socket 1011. */
    clientPingIntervalSeconds: z.number().int().min(0).default(45),
    /** Interval of WebSocket-level pings sent by Herald. */
    wsPingIntervalSeconds: seconds.default(300),
    /** A socket that does not answer a WebSocket ping within this time is closed 1011. */
    wsPongTimeoutSeconds: seconds.default(30),
    /** A drain past this many stored messages resets the device (protocol.md §1). */
    msgLimit: z.number().int().min(1).default(150),
    /** Stored messages sent per batch; the next batch follows when all are acked. */
    batchSize: z.number().int().min(1).max(10).default(10),
    /** TTLs above this are capped (RFC 8030 lets a push service shorten TTL). */
    maxTtlSeconds: seconds.default(30 * 24 * 3600),
    /**
     * Largest accepted request body (protocol.md §2: 413 above 5630 bytes). RFC 8030 asks for at
     * least 4096 bytes of payload; the rest is room for encryption overhead.
     */
    maxBodyBytes: z.number().int().min(4096).max(65536).default(5630),
    /** Largest WebSocket frame a device may send. */
    maxFrameBytes: z.number().int().min(1024).default(64 * 1024),
    /** How often expired messages and idle devices are swept. */
    sweepIntervalSeconds: seconds.default(60),
    /** Devices not seen (hello or register) for this many days are dropped with their messages. */
    deviceIdleDays: z.number().min(1).default(60),
    /** Tolerated clock difference when checking a VAPID `exp`. */
    vapidClockSkewSeconds: z.number().int().min(0).max(600).default(60),
    /** Verified VAPID JWTs kept in memory until they expire (0 disables the cache). */
    vapidCacheEntries: z.number().int().min(0).default(10000),
    /**
     * How long a node trusts its cached answer to "is this sender key revoked?". A revocation made on
     * another node (PostgreSQL) or by `herald keys block` reaches this node within this time; one
     * made through this node applies at once. 0: ask storage on every message.
     */
    senderBlocklistCacheSeconds: z.number().int().min(0).max(300).default(5),
    /**
     * "off": any device may say hello (Firefox needs this). "token": a hello must carry a service
     * token from the token server (docs/accounts.md), and a device answers only to the user it
     * registered under (docs/security.md, threat 2).
     */
    deviceAuth: z.enum(['off', 'token']).default('off'),
    /**
     * With deviceAuth = "token": the node URLs (as added with `herald admin nodes add push <url>`)
     * whose tokens this node accepts, besides its own device URL and public origin.
     */
    deviceAuthNodes: z.array(z.url()).default([]),
    /**
     * permessage-deflate costs hundreds of KB of zlib state per socket; off unless you know your
     * devices are few and chatty.
     */
    perMessageDeflate: z.boolean().default(false),
    /** Broadcast ids and their current versions, answered to devices that subscribe to them. */
    broadcasts: z.record(z.string().min(1).max(64), z.string().min(1).max(200)).default({}),
    wakeup: wakeupSchema.prefault({}),
  })
  .strict();

const busUrl = z.string().refine((value) => {
  if (value === 'local') return true;
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'must be "local" or a Redis url such as redis://127.0.0.1:6379 (rediss:// for TLS)');

const busSchema = z
  .object({
    /** "local": one process. redis://…: many nodes sharing presence and deliveries through Redis. */
    url: busUrl.default('local'),
    /** Prefix of every Redis key and channel Herald uses. */
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _ . : - only (at most 64)')
      .default('herald'),
    /** A dead node's devices are routed to it (and answered "stored") at most this long. */
    presenceLeaseSeconds: z.number().int().min(3).max(3600).default(30),
    /** How long a delivery waits for the device's node to take the message before leaving it to storage. */
    deliveryTimeoutMs: z.number().int().min(50).max(10_000).default(500),
    /**
     * Every Redis command (bus and guard) answers within this or fails, and its caller falls back
     * (storage, per-node limits): a frozen Redis never holds a send for longer.
     */
    commandTimeoutMs: z.number().int().min(20).max(10_000).default(250),
  })
  .strict();

const accountsSchema = z
  .object({
    /** Serve the accounts API (/v1/account/…, /v1/assertion, /.well-known/jwks.json) on the main port. */
    enabled: z.boolean().default(true),
    /**
     * Where accounts, sessions, token-server users and nodes live: a SQLite file (relative to
     * dataDir) or a postgres://… url (?schema=NAME, ?pool_size=N) shared by every node of a cluster.
     */
    database: z.string().min(1).default('accounts.sqlite'),
    /** `iss` of assertions and profile answers. Unset: the public origin. */
    issuer: origin.nullable().default(null),
    /** `aud` of assertions: the token server's origin. Unset: the public origin. */
    audience: origin.nullable().default(null),
    /** Lifetime of an identity assertion (a retired signing key stays published this long). */
    assertionLifetimeSeconds: z.number().int().min(60).max(86_400).default(900),
    /** Tolerated clock difference when the token server checks an assertion. */
    clockSkewSeconds: z.number().int().min(0).max(600).default(60),
    /** Shorter passwords are refused. */
    minPasswordLength: z.number().int().min(8).max(128).default(10),
    /** Extra breached passwords, one per line, added to the bundled list of common ones. */
    breachedPasswordsFile: z.string().min(1).nullable().default(null),
    /** argon2id memory cost in KiB (OWASP minimum: 19456) and passes. */
    passwordMemoryKiB: z.number().int().min(1024).default(19_456),
    passwordPasses: z.number().int().min(1).max(10).default(2),
    /** Failed logins allowed per account, and per client address, within the window. */
    loginFailuresPerAccount: z.number().int().min(1).default(10),
    loginFailuresPerIp: z.number().int().min(1).default(100),
    loginFailureWindowSeconds: seconds.default(900),
    /**
     * Failed logins for one account from all sources it has not logged in from before, per day: a
     * ceiling for guesses spread over many sources. Its owner still gets in from a known source.
     */
    loginFailuresPerAccountAllSources: z.number().int().min(1).default(1000),
    /** A session unused this long is over (its next use answers 401 errno 421). */
    sessionIdleSeconds: seconds.default(14 * 86_400),
    /** A session is over this long after its login, however often it is used. */
    sessionLifetimeSeconds: seconds.default(90 * 86_400),
    /** Sessions one account may hold; a login past it ends the account's oldest session. */
    maxSessionsPerAccount: z.number().int().min(1).default(20),
    /** Accounts created from one source within signupWindowSeconds (each costs an argon2 hash). */
    signupsPerSource: z.number().int().min(1).default(5),
    signupWindowSeconds: seconds.default(3600),
  })
  .strict();

const tokenServerSchema = z
  .object({
    /** Serve GET /1.0/:service/:version on the main port. */
    enabled: z.boolean().default(true),
    /** Lifetime of a service token. */
    tokenDurationSeconds: z.number().int().min(60).max(86_400).default(3600),
    /** `node_type` answered with every token. */
    nodeType: z.string().min(1).max(64).default('herald'),
  })
  .strict();

/** The web console (docs/console.md): static pages and a CSRF-protected JSON API under /console/. */
const consoleSchema = z
  .object({
    /** Serve the console at /console/ (and redirect GET / there) on the device port. Needs accounts. */
    enabled: z.boolean().default(true),
    /**
     * The origin people open the console at; unsafe requests whose Fetch Metadata is missing must
     * carry exactly this Origin. Unset: server.publicOrigin, else the device listener's address.
     */
    origin: origin.nullable().default(null),
    /** A console session unused this long is over. */
    sessionIdleSeconds: seconds.default(1800),
    /** A console session is over this long after sign-in, however often it is used. */
    sessionLifetimeSeconds: seconds.default(12 * 3600),
  })
  .strict();

export const configSchema = z
  .object({
    /** Folder for the SQLite database and the generated secrets (created 0700). */
    dataDir: z.string().min(1).default('./data'),
    server: serverSchema.prefault({}),
    store: z
      .object({
        /** `sqlite:<path>` (relative to dataDir unless absolute), `sqlite::memory:` or `postgres://…`. */
        url: z.string().min(1).nullable().default(null),
      })
      .strict()
      .prefault({}),
    push: pushSchema.prefault({}),
    bus: busSchema.prefault({}),
    /** Rate limits, abuse bans and caps (src/config/guard.ts documents each option). */
    guard: guardSchema.prefault({}),
    /** TLS on every listener when a certificate and key are given. */
    tls: tlsSchema.prefault({}),
    /** Device enrollment and the attestation gate (src/config/devices.ts, docs/devices.md). */
    devices: devicesSchema.prefault({}),
    accounts: accountsSchema.prefault({}),
    tokenserver: tokenServerSchema.prefault({}),
    console: consoleSchema.prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /**
         * One line per HTTP request (method, route pattern, status, errno, ms). Off by default: at
         * thousands of messages a second it costs more than the request and fills disks, and the
         * metrics already count answers by errno.
         */
        requests: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type HeraldConfigInput = z.input<typeof configSchema>;
export type HeraldConfig = z.output<typeof configSchema>;
