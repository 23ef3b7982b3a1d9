/**
 * Every error the sender endpoint answers (docs/errors.md, protocol.md §2), defined once. It lives
 * below the parts because three of them answer on the sender's path: the endpoint, key revocation
 * and the guard's limits.
 */
import { envelopeErrors, frameworkErrorHandler, type EnvelopeDefinition, type HttpError } from './errors.js';

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
  storageUnavailable: { status: 503, errno: 201, message: 'Storage is unavailable; nothing was accepted' },
  notFound: { status: 404, errno: 102, message: 'Not found' },
  badRequest: { status: 400, errno: 999, message: 'Bad request' },
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
