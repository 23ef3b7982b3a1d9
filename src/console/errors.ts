/**
 * Every error the web console's API answers (/console/api/…), in Herald's envelope with its own
 * errno range, 600-699 (docs/errors.md, "Web console"). The 62x are the CSRF defences.
 */
import { envelopeErrors, type EnvelopeDefinition } from '../http/errors.js';

const CONSOLE_ERRORS = {
  invalidRequest: { status: 400, errno: 600, message: 'Invalid request' },
  bodyTooLarge: { status: 413, errno: 601, message: 'Request body is too large' },
  notJson: { status: 415, errno: 602, message: 'State-changing console requests must be application/json' },
  notFound: { status: 404, errno: 603, message: 'Not found' },
  notSignedIn: { status: 401, errno: 610, message: 'Not signed in, or the console session is over' },
  // One answer for unknown email and wrong password, as on the accounts server.
  badCredentials: { status: 401, errno: 611, message: 'Incorrect email or password' },
  rateLimited: { status: 429, errno: 612, message: 'Too many failed attempts; try again later' },
  wrongPassword: { status: 403, errno: 613, message: 'This action needs your password again, and it was not right' },
  notOperator: { status: 403, errno: 614, message: 'Only operators may do this' },
  sessionNotFound: { status: 404, errno: 615, message: 'No such session' },
  crossSite: { status: 403, errno: 620, message: 'Refused: the request does not come from the console itself (Sec-Fetch-Site / Origin)' },
  csrfMissing: { status: 403, errno: 621, message: 'Refused: the X-CSRF-Token header is missing' },
  csrfInvalid: { status: 403, errno: 622, message: 'Refused: the CSRF token is not valid for this session' },
  loginCsrf: { status: 403, errno: 623, message: 'Refused: the sign-in token does not belong to this browser (reload the page)' },
  appNotFound: { status: 404, errno: 630, message: 'No such app' },
  keyMismatch: { status: 400, errno: 631, message: "The private key is not this app's" },
  importUnproven: { status: 400, errno: 633, message: 'The proof is not a VAPID JWT signed by this key for this Herald (aud), unexpired' },
  invalidPublicKey: { status: 400, errno: 632, message: 'Not a P-256 public key: 65 bytes, base64url, an uncompressed point (0x04 first) on the curve' },
  invalidSubscription: { status: 400, errno: 640, message: 'Invalid subscription' },
  foreignEndpoint: { status: 400, errno: 641, message: 'The console sends only to push endpoints of this Herald' },
  endpointUnreachable: { status: 502, errno: 642, message: 'The push endpoint could not be reached' },
  notBuilt: { status: 503, errno: 650, message: 'The console pages are not built: run npm run build' },
  internal: { status: 500, errno: 999, message: 'Internal error' },
} as const satisfies Record<string, EnvelopeDefinition>;

export type ConsoleErrorCode = keyof typeof CONSOLE_ERRORS;

export const CONSOLE_ERRORS_URL = 'https://github.com/herald-push/herald/blob/main/docs/errors.md#web-console';

export const consoleErrors = envelopeErrors<ConsoleErrorCode>(CONSOLE_ERRORS_URL, CONSOLE_ERRORS);
