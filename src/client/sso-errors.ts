/**
 * What a relying back end answers its own page when single sign-on fails (docs/sso.md), in
 * Herald's envelope with the 46x range: 4xx for a bad payload (which one), 5xx when the accounts
 * server could not be reached.
 */
import { envelopeErrors, type EnvelopeDefinition } from '../http/errors.js';

const SSO_ERRORS = {
  malformedPayload: { status: 400, errno: 460, message: 'The recovery payload is not {recoveryPayload: {packet, cipherId}}' },
  unknownCipher: { status: 400, errno: 461, message: 'The payload names a cipherId this app does not hold' },
  packetUnopenable: { status: 400, errno: 462, message: 'The packet does not open: tampered with, or sealed for another app or origin' },
  payloadExpired: { status: 400, errno: 463, message: 'The payload has expired' },
  payloadReplayed: { status: 400, errno: 464, message: 'The payload was already used' },
  tokenMalformed: { status: 400, errno: 465, message: 'The sealed session token is not 64 hex characters' },
  sessionRefused: { status: 401, errno: 466, message: 'The accounts server refused the session' },
  profileInvalid: { status: 401, errno: 467, message: 'The profile is not signed by the accounts server' },
  codeRefused: { status: 400, errno: 468, message: 'The accounts server refused the code' },
  stateMismatch: { status: 400, errno: 469, message: 'The sign-in state does not match this browser' },
  accountsUnreachable: { status: 502, errno: 470, message: 'The accounts server could not be reached' },
  logoutTokenInvalid: { status: 400, errno: 471, message: 'The logout token does not verify (signature, iss, aud, typ, iat, event or nonce)' },
  logoutTokenReplayed: { status: 400, errno: 472, message: 'The logout token was already used' },
  replayCacheUnavailable: { status: 503, errno: 473, message: 'The replay cache could not be reached' },
} as const satisfies Record<string, EnvelopeDefinition>;

export type SsoErrorCode = keyof typeof SSO_ERRORS;
export const SSO_ERRORS_URL = 'https://github.com/herald-push/herald/blob/main/docs/sso.md';
export const ssoErrors = envelopeErrors<SsoErrorCode>(SSO_ERRORS_URL, SSO_ERRORS);
