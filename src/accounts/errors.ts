/**
 * Every error the accounts server answers, defined once. Handlers throw `AccountsError` with one of
 * these codes; the scope's error handler renders `{code, errno, error, message}` (the same envelope
 * as the push endpoint, with its own errno range).
 */
import type { FastifyReply } from 'fastify';

export const ACCOUNT_ERRORS = {
  invalidRequest: { status: 400, errno: 400, message: 'Invalid request' },
  invalidEmail: { status: 400, errno: 401, message: 'Invalid email address' },
  passwordTooShort: { status: 400, errno: 402, message: 'Password is too short' },
  passwordBreached: { status: 400, errno: 403, message: 'Password is too common: it appears in lists of breached passwords' },
  passwordTooLong: { status: 400, errno: 404, message: 'Password is too long' },
  passwordIsEmail: { status: 400, errno: 405, message: 'Password must not be the email address' },
  emailTaken: { status: 409, errno: 410, message: 'An account with this email already exists' },
  // One answer for unknown email and wrong password: the error must not reveal which.
  badCredentials: { status: 401, errno: 420, message: 'Incorrect email or password' },
  invalidSession: { status: 401, errno: 421, message: 'Invalid or expired session token' },
  sessionNotFound: { status: 404, errno: 422, message: 'No such session' },
  rateLimited: { status: 429, errno: 429, message: 'Too many failed attempts; try again later' },
  notFound: { status: 404, errno: 404, message: 'Not found' },
  internal: { status: 500, errno: 999, message: 'Internal error' },
} as const satisfies Record<string, { status: number; errno: number; message: string }>;

export type AccountsErrorCode = keyof typeof ACCOUNT_ERRORS;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

export class AccountsError extends Error {
  readonly status: number;
  readonly errno: number;
  constructor(
    readonly code: AccountsErrorCode,
    /** Seconds, for 429. */
    readonly retryAfter?: number,
  ) {
    super(ACCOUNT_ERRORS[code].message);
    this.name = 'AccountsError';
    this.status = ACCOUNT_ERRORS[code].status;
    this.errno = ACCOUNT_ERRORS[code].errno;
  }
}

export function sendAccountsError(reply: FastifyReply, error: AccountsError): void {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
  reply
    .code(error.status)
    .type('application/json')
    .send({ code: error.status, errno: error.errno, error: REASONS[error.status] ?? 'Error', message: error.message });
}
