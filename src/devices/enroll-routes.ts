/**
 * POST /v1/devices/enroll and /v1/devices/renew on the device listener (docs/devices.md). Checks
 * run in this order, the first failure answering: per-source limit (429 errno 29) → attestation
 * when the gate stands here (403 errno 33) → body and CSR (400 errno 999) → code, or the current
 * certificate and its key (403 errno 32 / 31). Every refusal of one kind is the same answer.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestGate } from '../guard/request-gate.js';
import { handleErrors } from '../http/errors.js';
import { senderErrors } from '../http/sender-errors.js';
import type { AttestationVerdict } from './attestation.js';
import type { ClientCertificateChecker } from './client-certificates.js';
import type { Enrollment, EnrollmentOutcome } from './enrollment.js';

export type EnrollRoute = 'enroll' | 'renew';

export interface EnrollRoutesDeps {
  enrollment: Enrollment;
  checker: ClientCertificateChecker;
  /** Bans and guard.enrollmentsPerSource. */
  gate?: RequestGate;
  /** devices.attestation on this listener. */
  attest?: (token: unknown) => Promise<AttestationVerdict>;
  /** Every answer's outcome, with the refusal's reason (metrics and the debug log; never the code). */
  outcome?: (route: EnrollRoute, outcome: string) => void;
  onError?: (error: unknown) => void;
}

const BODY_LIMIT = 32_768;

export function registerEnrollRoutes(app: FastifyInstance, deps: EnrollRoutesDeps): void {
  void app.register(async (scope) => {
    handleErrors(scope, senderErrors, {
      requestError: () => senderErrors.error('badRequest'),
      internalError: (thrown) => {
        deps.onError?.(thrown);
        return senderErrors.error('internal');
      },
    });
    scope.post('/v1/devices/enroll', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const body = await admit(deps, request, 'enroll');
      answer(deps, 'enroll', reply, await deps.enrollment.enroll({ code: body.code, app: body.app, csr: body.csr }));
    });
    scope.post('/v1/devices/renew', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const body = await admit(deps, request, 'renew');
      const { certificate } = deps.checker.presented(request.raw);
      const verdict = certificate ? await deps.checker.verify(certificate) : { ok: false as const, reason: 'no client certificate' };
      if (!certificate || !verdict.ok) {
        deps.outcome?.('renew', verdict.ok ? 'refused' : verdict.reason);
        throw senderErrors.error('certificateRefused');
      }
      const publicKeyDer = certificate.publicKey.export({ type: 'spki', format: 'der' });
      const current = { serial: certificate.serialNumber, publicKeyDer };
      answer(deps, 'renew', reply, await deps.enrollment.renew(current, body.csr, body.attested));
    });
  });
}

/** The limit and the attestation; the JSON body once both passed. */
async function admit(deps: EnrollRoutesDeps, request: FastifyRequest, route: EnrollRoute): Promise<Record<string, unknown> & { attested: boolean }> {
  const refusal = await deps.gate?.(request);
  if (refusal) {
    deps.outcome?.(route, 'rate limited');
    throw senderErrors.error('rateLimited', { detail: refusal.detail, retryAfterSeconds: refusal.retryAfterSeconds });
  }
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw senderErrors.error('badRequest', { detail: 'a JSON object is expected' });
  const fields = body as Record<string, unknown>;
  if (!deps.attest) return { ...fields, attested: false };
  const verdict = await deps.attest(fields.attestation);
  if (!verdict.ok) {
    deps.outcome?.(route, 'attestation refused');
    throw senderErrors.error('attestationRefused');
  }
  return { ...fields, attested: true };
}

function answer(deps: EnrollRoutesDeps, route: EnrollRoute, reply: FastifyReply, outcome: EnrollmentOutcome): void {
  if (!outcome.ok) {
    if ('invalid' in outcome) {
      deps.outcome?.(route, 'invalid request');
      throw senderErrors.error('badRequest', { detail: outcome.invalid });
    }
    deps.outcome?.(route, outcome.refusal);
    throw senderErrors.error('enrollmentRefused');
  }
  deps.outcome?.(route, 'issued');
  const { issued, chainPem } = outcome;
  reply.header('cache-control', 'no-store').send({
    deviceId: issued.deviceId,
    serial: issued.serial,
    notAfter: new Date(issued.notAfter).toISOString(),
    certificate: issued.pem,
    chain: chainPem,
  });
}
