/**
 * Every error the sender endpoint answers, defined once (protocol.md §2). Handlers throw
 * `EndpointError` with one of these codes; the error handler renders the envelope.
 */

export const ERRORS = {
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
} as const satisfies Record<string, { status: number; errno: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export const MORE_INFO_URL = 'https://github.com/herald-push/herald/blob/main/docs/errors.md';

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export class EndpointError extends Error {
  readonly status: number;
  readonly errno: number;
  /** Retry-After for 429/503 answers; unset: 30 s. */
  retryAfterSeconds?: number;
  constructor(
    readonly code: ErrorCode,
    /** A more precise explanation for the sender (never contains ids or secrets). */
    detail?: string,
    /** The underlying failure, for the error log only; never sent to the sender. */
    cause?: unknown,
  ) {
    const entry = ERRORS[code];
    super(detail ? `${entry.message}: ${detail}` : entry.message, cause === undefined ? undefined : { cause });
    this.status = entry.status;
    this.errno = entry.errno;
  }
}

export interface ErrorEnvelope {
  code: number;
  errno: number;
  error: string;
  message: string;
  more_info: string;
}

export function errorEnvelope(error: EndpointError): ErrorEnvelope {
  return {
    code: error.status,
    errno: error.errno,
    error: REASON_PHRASES[error.status] ?? 'Error',
    message: error.message,
    more_info: MORE_INFO_URL,
  };
}
