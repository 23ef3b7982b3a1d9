/**
 * Parsers for the token server's request headers. Each takes whatever arrived (string, array,
 * undefined) and returns a value or a TokenError; none throws, none echoes the input.
 */
import { tokenError, type TokenError } from './errors.js';

const CLIENT_STATE = /^[0-9a-f]{32}$/;
/** Three base64url segments; the length bound keeps a pathological header from reaching jose. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_ASSERTION_LENGTH = 8192;

export function parseAuthorization(header: unknown): string | TokenError {
  const refuse = (description: string) => tokenError('invalidCredentials', 'header', 'Authorization', description);
  if (header === undefined) return refuse('missing Authorization header');
  if (typeof header !== 'string') return refuse('Authorization header must be given once');
  // Surrounding whitespace is not part of a field value (RFC 9110 §5.5); HTTP parsers strip it.
  const value = header.trim();
  const space = value.indexOf(' ');
  if (space < 0 || value.slice(0, space).toLowerCase() !== 'bearer') return refuse('Authorization must use the Bearer scheme');
  const token = value.slice(space + 1).trim();
  if (token.length > MAX_ASSERTION_LENGTH || !JWT_SHAPE.test(token)) return refuse('the assertion is not a JWT');
  // Base64url leaves spare bits in a segment's last character: several spellings decode to the same
  // bytes. Only the canonical one is accepted, so one signed assertion has exactly one form.
  for (const segment of token.split('.')) {
    if (Buffer.from(segment, 'base64url').toString('base64url') !== segment) return refuse('the assertion is not canonical base64url');
  }
  return token;
}

/** '' when absent or empty (no state sent); else 32 lowercase hex. */
export function parseClientState(header: unknown): string | TokenError {
  if (header === undefined || header === '') return '';
  if (typeof header === 'string' && CLIENT_STATE.test(header)) return header;
  return tokenError('invalidClientState', 'header', 'X-Client-State', 'client state must be exactly 32 lowercase hex characters');
}

export interface KeyId {
  keysChangedAt: number;
  /** '' when the key id carries no state; else 32 lowercase hex. */
  clientState: string;
}

/** `<keys_changed_at>-<base64url(client state bytes)>`, or undefined when the header is absent. */
export function parseKeyId(header: unknown): KeyId | undefined | TokenError {
  if (header === undefined) return undefined;
  const malformed = tokenError('invalidCredentials', 'header', 'X-KeyID', 'X-KeyID must be <keys_changed_at>-<base64url client state>');
  if (typeof header !== 'string') return malformed;
  const match = /^([0-9]{1,20})-([A-Za-z0-9_-]*)$/.exec(header);
  if (!match) return malformed;
  const digits = match[1] as string;
  const encoded = match[2] as string;
  const keysChangedAt = Number(digits);
  if (!Number.isSafeInteger(keysChangedAt)) {
    return tokenError('invalidKeysChangedAt', 'header', 'X-KeyID', 'keys_changed_at is larger than 2^53-1');
  }
  if (encoded === '') return { keysChangedAt, clientState: '' };
  const bytes = Buffer.from(encoded, 'base64url');
  // Exactly 16 bytes, and the canonical encoding of them (Node's decoder ignores stray bits).
  if (bytes.length !== 16 || bytes.toString('base64url') !== encoded) {
    return tokenError('invalidClientState', 'header', 'X-KeyID', 'the client state in X-KeyID must be 16 bytes of unpadded base64url');
  }
  return { keysChangedAt, clientState: bytes.toString('hex') };
}
