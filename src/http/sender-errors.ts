/**
 * Every error the sender endpoint answers (docs/errors.md, protocol.md §2), defined once. It lives
 * below the parts because three of them answer on the sender's path: the endpoint, key revocation
 * and the guard's limits.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { envelopeErrors, errorEnvelope, frameworkErrorHandler, type EnvelopeDefinition, type HttpError } from './errors.js';

const SENDER_ERRORS = {
  invalidToken: { status: 404, errno: 102, message: 'Invalid endpoint token' },
  deviceGone: { status: 410, errno: 103, message: 'No such device: the subscription has expired' },
  subscriptionGone: { status: 410, errno: 106, message: 'No such subscription: it was unsubscribed or replaced' },
  bodyTooLarge: { status: 413, errno: 104, message: 'Body is too large' },
  unauthorized: { status: 401, errno: 109, message: 'Invalid VAPID authorization' },
  invalidEncryption: { status: 400, errno: 110, message: 'Missing or invalid encryption headers' },
  missingTtl: { status: 400, errno: 111, message: 'Missing TTL header' },
  invalidUrgency: { status: 400, errno: 112, message: 'Invalid Urgency header' },
  invalidTopic: { status: 400, errno: 113, message: 'Invalid Topic header' },
  invalidTtl: { status: 400, errno: 114, message: 'Invalid TTL header' },
  messageNotFound: { status: 404, errno: 102, message: 'No such message' },
  rateLimited: { status: 429, errno: 29, message: 'Too many requests' },
  senderBlocked: { status: 403, errno: 27, message: 'Sender key is revoked or blocked' },
  // A v2 subscription bound to a revoked key can never be sent to again: 410 makes senders prune it.
  senderRevoked: { status: 410, errno: 27, message: 'Sender key is revoked or blocked: this subscription is gone' },
  // server.allowedNetworks: the same answer on every listener, saying nothing of the list.
  networkRefused: { status: 403, errno: 28, message: 'This network may not use this service' },
  // tls.clientCertificates: one answer whatever was wrong with the certificate (the reason is logged).
  certificateRefused: { status: 403, errno: 31, message: 'A valid client certificate is required' },
  // devices.enrollment: one answer for an unknown, used, expired or other app's code, and for a
  // renewal CSR of another key (the reason goes to logs and metrics).
  enrollmentRefused: { status: 403, errno: 32, message: 'Enrollment refused' },
  // devices.attestation: one answer whatever was wrong with the attestation token.
  attestationRefused: { status: 403, errno: 33, message: 'Attestation refused' },
  storageUnavailable: { status: 503, errno: 201, message: 'Storage is unavailable; nothing was accepted' },
  notFound: { status: 404, errno: 102, message: 'Not found' },
  badRequest: { status: 400, errno: 999, message: 'Bad request' },
  // A valid endpoint only takes GET (UnifiedPush discovery) and POST: never 404 errno 102, which
  // would tell the sender to drop a subscription that is fine.
  methodNotAllowed: { status: 405, errno: 999, message: 'Method not allowed: a push endpoint takes GET and POST' },
  requestTimeout: { status: 408, errno: 999, message: 'The request did not arrive whole in time' },
  headersTooLarge: { status: 431, errno: 999, message: 'Request headers are too large' },
  internal: { status: 500, errno: 999, message: 'Internal error' },
} as const satisfies Record<string, EnvelopeDefinition>;

export type SenderErrorCode = keyof typeof SENDER_ERRORS;
export type SenderError = HttpError<SenderErrorCode, EnvelopeDefinition>;

export const SENDER_ERRORS_URL = 'https://github.com/herald-push/herald/blob/main/docs/errors.md';

export const senderErrors = envelopeErrors<SenderErrorCode>(SENDER_ERRORS_URL, SENDER_ERRORS);

/**
 * For the listeners' `frameworkErrors` (what fails before any route runs, on every listener): a
 * path that does not even decode (e.g. %ff) is a token that does not open; anything else is a bad request.
 */
export const senderFrameworkErrors = frameworkErrorHandler(senderErrors, (error) =>
  senderErrors.error(error.code === 'FST_ERR_BAD_URL' ? 'invalidToken' : 'badRequest'),
);

/**
 * For `Fastify({ clientErrorHandler })`: what node's HTTP parser refuses before fastify sees a
 * request (headers too large, malformed HTTP, a request that did not arrive in time) answered in
 * the same envelope as everything else, then the connection is closed.
 */
export function senderClientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = error.code === 'HPE_HEADER_OVERFLOW' ? 'headersTooLarge' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'requestTimeout' : 'badRequest';
  const failure = senderErrors.error(code);
  const body = JSON.stringify(errorEnvelope(failure, SENDER_ERRORS_URL));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
