import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Herald's Prometheus metrics, on a registry of its own (never the global one, so several
 * instances in one process — tests, embedding — do not collide). Labels never carry device ids.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'herald_connections', help: 'Open device WebSockets', registers: [this.registry] });
  readonly messagesAccepted = new Counter({
    name: 'herald_messages_accepted_total',
    help: 'Messages answered 201, by what happened to them at once',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly messagesDelivered = new Counter({
    name: 'herald_messages_delivered_total',
    help: 'Notifications sent to devices',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly messagesAcked = new Counter({
    name: 'herald_messages_acked_total',
    help: 'Acks received from devices, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly messagesExpired = new Counter({ name: 'herald_messages_expired_total', help: 'Stored messages swept after their TTL', registers: [this.registry] });
  readonly devicesSwept = new Counter({ name: 'herald_devices_swept_total', help: 'Idle devices dropped by the sweep', registers: [this.registry] });
  readonly deviceResets = new Counter({ name: 'herald_device_resets_total', help: 'Devices reset for exceeding msg_limit', registers: [this.registry] });
  readonly protocolViolations = new Counter({ name: 'herald_protocol_violations_total', help: 'Sockets closed for a protocol violation', registers: [this.registry] });
  readonly socketReadsPaused = new Counter({
    name: 'herald_socket_reads_paused_total',
    help: 'Times Herald stopped reading a device socket until the frames it had sent were handled',
    registers: [this.registry],
  });
  readonly endpointErrors = new Counter({
    name: 'herald_endpoint_errors_total',
    help: 'Sender endpoint errors, by errno',
    labelNames: ['errno'] as const,
    registers: [this.registry],
  });
  readonly untrustedForwarded = new Counter({
    name: 'herald_guard_untrusted_forwarded_total',
    help: 'Requests with X-Forwarded-For from a peer not in guard.trustedProxies (the header was ignored)',
    registers: [this.registry],
  });
  readonly uploadsAborted = new Counter({
    name: 'herald_endpoint_uploads_aborted_total',
    help: 'POSTs whose sender closed the connection (or broke its chunked framing) before the body arrived whole',
    registers: [this.registry],
  });
  readonly wakeupDatagrams = new Counter({
    name: 'herald_wakeup_datagrams_total',
    help: 'UDP wake-up attempts for devices away when a message was stored, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly guardLimited = new Counter({
    name: 'herald_guard_limited_total',
    help: 'Requests refused by a guard limit (429 errno 29), by limit: source, sender key, subscription, device, backlog',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly networkRefused = new Counter({
    name: 'herald_guard_network_refused_total',
    help: 'Requests and WebSocket upgrades refused because the client is outside the listener\'s server.allowedNetworks, by listener',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });
  readonly certificatesRefused = new Counter({
    name: 'herald_client_certificates_refused_total',
    help: 'Requests and upgrades refused for their client certificate (tls.clientCertificates), by listener and reason',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });
  readonly enrollments = new Counter({
    name: 'herald_device_enrollments_total',
    help: 'POST /v1/devices/enroll and /renew answers (devices.enrollment), by route and outcome (issued, or the refusal reason)',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly attestationRefused = new Counter({
    name: 'herald_attestation_refused_total',
    help: 'Hellos and enrollment calls refused by the attestation gate (devices.attestation), by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly guardBans = new Counter({
    name: 'herald_guard_bans_total',
    help: 'Sources banned (or their ban renewed) for a cool-down, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly acceptSeconds = new Histogram({
    name: 'herald_accept_seconds',
    help: 'Time from a push request to its 201 (token, VAPID, store, hand-off)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly busFallbacks = new Counter({
    name: 'herald_bus_fallbacks_total',
    help: 'Stored messages for a device on another node that the bus could not hand over (left to storage, re-sent once Redis answers), by reason: redis-down, no-answer, node-gone',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly dependencyUp = new Gauge({
    name: 'herald_dependency_up',
    help: 'Whether a dependency answers (1) or not (0): storage, bus (Redis), limits (Redis of the guard); absent when not used',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });
  readonly dependencyOutages = new Counter({
    name: 'herald_dependency_outages_total',
    help: 'Times a dependency stopped answering, by dependency',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });
  readonly storageRetries = new Counter({
    name: 'herald_storage_retries_total',
    help: 'PostgreSQL statements retried on a fresh connection after their connection was killed (57P01, ECONNRESET, …)',
    registers: [this.registry],
  });
  readonly peerLapses = new Counter({
    name: 'herald_bus_peer_lapses_total',
    help: "Peer nodes this node saw stop refreshing their presence for a lease (a crashed or cut-off node)",
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'herald_' });
  }
}
