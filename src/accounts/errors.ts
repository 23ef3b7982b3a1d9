/**
 * Every error the accounts server answers, defined once, in the same envelope as the sender
 * endpoint (src/http/errors.ts) with its own errno range (docs/accounts.md).
 */
import { envelopeErrors, type EnvelopeDefinition } from '../http/errors.js';

const ACCOUNT_ERRORS = {
  invalidRequest: { status: 400, errno: 400, message: 'Invalid request' },
  invalidEmail: { status: 400, errno: 401, message: 'Invalid email address' },
  passwordTooShort: { status: 400, errno: 402, message: 'Password is too short' },
  passwordBreached: { status: 400, errno: 403, message: 'Password is too common: it appears in lists of breached passwords' },
  passwordTooLong: { status: 400, errno: 404, message: 'Password is too long' },
  passwordIsEmail: { status: 400, errno: 405, message: 'Password must not be the email address' },
  bodyTooLarge: { status: 413, errno: 406, message: 'Request body is too large' },
  emailTaken: { status: 409, errno: 410, message: 'An account with this email already exists' },
  // One answer for unknown email and wrong password: the error must not reveal which.
  badCredentials: { status: 401, errno: 420, message: 'Incorrect email or password' },
  invalidSession: { status: 401, errno: 421, message: 'Invalid or expired session token' },
  sessionNotFound: { status: 404, errno: 422, message: 'No such session' },
  rateLimited: { status: 429, errno: 429, message: 'Too many failed attempts; try again later' },
  signupLimited: { status: 429, errno: 430, message: 'Too many accounts created from this address; try again later' },
  // Single sign-on (docs/sso.md).
  ssoUnknownClient: { status: 400, errno: 440, message: 'Unknown client_id' },
  ssoRedirectMismatch: { status: 400, errno: 441, message: 'redirect_uri is not the one registered for this client' },
  ssoPkceRequired: { status: 400, errno: 442, message: 'A PKCE code_challenge with code_challenge_method=S256 is required' },
  ssoLoginRequired: { status: 401, errno: 443, message: 'No accounts session: sign in first' },
  ssoCodeInvalid: { status: 400, errno: 444, message: 'Unknown or already used code' },
  ssoCodeExpired: { status: 400, errno: 445, message: 'The code has expired' },
  ssoVerifierMismatch: { status: 400, errno: 446, message: 'code_verifier does not match the code_challenge' },
  ssoNoKey: { status: 503, errno: 447, message: 'This client has no sealing key yet' },
  ssoCrossSite: { status: 403, errno: 448, message: 'This request must come from the accounts origin itself' },
  ssoOriginNotListed: { status: 403, errno: 449, message: 'This origin is not a registered relying app' },
  notFound: { status: 404, errno: 404, message: 'Not found' },
  internal: { status: 500, errno: 999, message: 'Internal error' },
} as const satisfies Record<string, EnvelopeDefinition>;

export type AccountsErrorCode = keyof typeof ACCOUNT_ERRORS;

export const ACCOUNT_ERRORS_URL = 'https://github.com/herald-push/herald/blob/main/docs/accounts.md';

export const accountErrors = envelopeErrors<AccountsErrorCode>(ACCOUNT_ERRORS_URL, ACCOUNT_ERRORS);
