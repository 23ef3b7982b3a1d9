/**
 * What the accounts server and a relying back end share about back-channel sign-out
 * (OpenID Connect Back-Channel Logout 1.0, docs/sso.md): the event name of a logout token, its
 * JWT `typ`, and the `sid` that names one relying sign-in. The sid is derived from the session
 * token the app received sealed, so both sides compute it and no extra identifier crosses the
 * browser; it is a hash with its own label, not the hash the accounts database looks tokens up by.
 */
import { createHash } from 'node:crypto';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
export const LOGOUT_TOKEN_TYPE = 'logout+jwt';
/** A logout token is good this long after its iat (and a relying side accepts an iat this far ahead). */
export const LOGOUT_TOKEN_LIFETIME_SECONDS = 120;

export function ssoSessionId(sessionToken: string): string {
  return createHash('sha256').update(`herald sso sid\n${sessionToken}`, 'utf8').digest('base64url').slice(0, 32);
}
