/**
 * The devices part (docs/devices.md): with mutual TLS on a listener, it loads Herald's CA,
 * produces the CRL from storage at start and every hour (installing it on the listeners with
 * setSecureContext), and refuses every request of that listener whose client certificate is
 * missing (when required), foreign, expired or revoked. The device socket asks it at upgrade.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../config/load.js';
import type { HeraldConfig } from '../config/schema.js';
import { senderErrors } from '../http/sender-errors.js';
import type { HttpListeners, Part } from '../server/part.js';
import type { Store } from '../store/types.js';
import type { Guard } from '../guard/guard.js';
import { requestGate } from '../guard/request-gate.js';
import type { AttestationGate } from './attestation.js';
import { registerEnrollRoutes, type EnrollRoute } from './enroll-routes.js';
import type { Enrollment } from './enrollment.js';
import type { CertificateVerdict, ClientCertificateChecker, ClientCertificateMode } from './client-certificates.js';
import type { DeviceCertificates } from './registry.js';
import { ownerOfDevice } from './owner.js';

const CRL_REFRESH_MS = 3_600_000;

export interface DevicesPartDeps {
  config: HeraldConfig;
  dataDir: string;
  storage: () => Store;
  /** guard.trustedProxies, for tls.clientCertHeader. */
  isTrustedProxy: (peer: string | undefined) => boolean;
  /** Installs the CA's current CRLs on the TLS listeners. */
  reloadClientTrust: () => void;
  now: () => number;
  /** A refused client certificate, with why (logs and metrics only: the client is told nothing). */
  refused?: (listener: 'devices' | 'endpoint', reason: string) => void;
  crlFailed?: (error: unknown) => void;
  /** devices.enrollment: the guard whose enrollmentsPerSource limits the routes. */
  guard?: Guard;
  /** devices.attestation, when it stands on the device listener. */
  attestation?: AttestationGate | null;
  /** An enrollment or renewal answered, with its outcome or refusal reason (logs and metrics). */
  enrolled?: (route: EnrollRoute, outcome: string) => void;
  enrollFailed?: (error: unknown) => void;
}

export class DevicesPart implements Part {
  readonly name = 'devices';
  private checker: ClientCertificateChecker | null = null;
  private certificates: DeviceCertificates | null = null;
  private timer: NodeJS.Timeout | undefined;
  private makeEnrollment: ((certificates: DeviceCertificates) => Enrollment) | null = null;

  constructor(private readonly deps: DevicesPartDeps) {
    const { tls, server } = deps.config;
    if (this.enabled && (tls.cert === null) && !tls.clientCertHeader) {
      throw new ConfigError('tls.clientCertificates: needs tls.cert and tls.key, or tls.clientCertHeader behind a TLS-terminating proxy');
    }
    if (deps.config.devices.enrollment) {
      if (tls.cert === null && !tls.clientCertHeader) throw new ConfigError('devices.enrollment: needs TLS (tls.cert and tls.key), or tls.clientCertHeader behind a TLS-terminating proxy');
      const mode = tls.clientCertificates.devices;
      if (mode === 'require' || (mode === 'off' && !tls.clientCertHeader)) {
        throw new ConfigError('devices.enrollment: needs tls.clientCertificates.devices = "request" (a device enrolls without a certificate and renews with one)');
      }
    }
    const separateEndpoint = server.endpointPort !== null && server.endpointPort !== server.port;
    if (!separateEndpoint && tls.clientCertificates.endpoint !== 'off') {
      throw new ConfigError('tls.clientCertificates.endpoint: needs server.endpointPort (the endpoint shares the device port; use clientCertificates.devices)');
    }
  }

  get enabled(): boolean {
    const modes = this.deps.config.tls.clientCertificates;
    return modes.devices !== 'off' || modes.endpoint !== 'off';
  }

  get deviceMode(): ClientCertificateMode {
    return this.deps.config.tls.clientCertificates.devices;
  }

  get enrollmentOn(): boolean {
    return this.deps.config.devices.enrollment;
  }

  async start(): Promise<void> {
    if (!this.enabled && !this.enrollmentOn) return;
    // The X.509 code (and its library, a third of a second to load) only when the CA is in use.
    const [{ DeviceCa }, { ClientCertificateChecker }, { DeviceCertificates }, { Enrollment }] = await Promise.all([
      import('./ca.js'),
      import('./client-certificates.js'),
      import('./registry.js'),
      import('./enrollment.js'),
    ]);
    this.makeEnrollment = (certificates) => new Enrollment(certificates, this.deps.storage(), { days: this.deps.config.devices.certificateDays, now: this.deps.now });
    const ca = await DeviceCa.load(this.deps.dataDir).catch((error: Error) => {
      throw new ConfigError(`tls.clientCertificates: ${error.message}`);
    });
    const store = this.deps.storage();
    const { tls } = this.deps.config;
    this.certificates = new DeviceCertificates(ca, store);
    this.checker = new ClientCertificateChecker({
      store,
      issuingPem: ca.issuingPem,
      isTrustedProxy: tls.clientCertHeader ? this.deps.isTrustedProxy : null,
      cacheMs: tls.clientRevocationCacheSeconds * 1000,
      now: this.deps.now,
    });
    await this.refreshCrl();
    this.timer = setInterval(() => void this.refreshCrl().catch((error: unknown) => this.deps.crlFailed?.(error)), CRL_REFRESH_MS);
    this.timer.unref();
  }

  async register(http: HttpListeners): Promise<void> {
    if (this.enrollmentOn && this.certificates && this.checker) {
      const { guard, attestation } = this.deps;
      registerEnrollRoutes(http.devices, {
        enrollment: (this.makeEnrollment as (certificates: DeviceCertificates) => Enrollment)(this.certificates),
        checker: this.checker,
        ...(guard ? { gate: requestGate(guard, 'enrollments') } : {}),
        ...(attestation?.guards('devices') ? { attest: (token: unknown) => attestation.check(token) } : {}),
        ...(this.deps.enrolled ? { outcome: this.deps.enrolled } : {}),
        ...(this.deps.enrollFailed ? { onError: this.deps.enrollFailed } : {}),
      });
    }
    if (!this.enabled) return;
    const modes = this.deps.config.tls.clientCertificates;
    this.guardListener(http.devices, 'devices', modes.devices);
    if (http.endpoint !== http.devices) this.guardListener(http.endpoint, 'endpoint', modes.endpoint);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * For the device socket's upgrade: undefined when mutual TLS is off there, else the owner the
   * socket's device is bound to (null: no certificate, allowed under "request"), or a refusal.
   */
  async upgradeOwner(request: IncomingMessage): Promise<{ ok: true; owner: string | null | undefined } | { ok: false }> {
    if (this.deviceMode === 'off' || !this.checker) return { ok: true, owner: undefined };
    const verdict = await this.verdict(request, 'devices', this.deviceMode);
    if (!verdict.ok) return { ok: false };
    return { ok: true, owner: verdict.deviceId === null ? null : ownerOfDevice(verdict.deviceId) };
  }

  /** Writes the CRL from storage and installs it (start, hourly, and after `herald ca revoke` on this node's folder). */
  async refreshCrl(): Promise<void> {
    if (!this.certificates) return;
    await this.certificates.writeCrl(this.deps.now());
    if (this.deps.config.tls.cert !== null) this.deps.reloadClientTrust();
  }

  private guardListener(app: FastifyInstance, listener: 'devices' | 'endpoint', mode: ClientCertificateMode): void {
    if (mode === 'off') return;
    app.addHook('onRequest', async (request, reply) => {
      const verdict = await this.verdict(request.raw, listener, mode);
      if (verdict.ok) return;
      senderErrors.send(reply, senderErrors.error('certificateRefused'));
      return reply;
    });
  }

  private async verdict(request: IncomingMessage, listener: 'devices' | 'endpoint', mode: ClientCertificateMode): Promise<CertificateVerdict> {
    const checker = this.checker;
    if (!checker) return { ok: false, reason: 'not started' };
    const verdict = await checker.check(request, mode);
    if (!verdict.ok) this.deps.refused?.(listener, verdict.reason);
    return verdict;
  }
}
