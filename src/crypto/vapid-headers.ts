/**
 * Reading a sender's VAPID credentials from request headers. RFC 8292's `vapid t=…, k=…` is the
 * standard; `WebPush <jwt>` / `Bearer <jwt>` with the key in `Crypto-Key: p256ecdsa=…` is what
 * drafts-era senders (older web-push, pywebpush) still send, and Firefox's autopush accepts both.
 */
import { fromBase64Flexible } from './base64.js';
import { isP256PublicKey } from './p256.js';

export type VapidHeaders = { jwt: string; publicKey: Buffer };

export type ParsedVapidHeaders = { ok: true; value: VapidHeaders } | { ok: false; reason: string };

/** Null when no Authorization header was sent (or it is blank): VAPID is then simply absent. */
export function parseVapidHeaders(authorization: string | undefined, cryptoKey: string | undefined): ParsedVapidHeaders | null {
  if (typeof authorization !== 'string' || authorization.trim() === '') return null;
  const text = authorization.trim();
  const schemeEnd = text.search(/\s/);
  const scheme = (schemeEnd === -1 ? text : text.slice(0, schemeEnd)).toLowerCase();
  const rest = schemeEnd === -1 ? '' : text.slice(schemeEnd).trim();

  if (scheme === 'vapid') return parseVapidScheme(rest);
  if (scheme === 'webpush' || scheme === 'bearer') return parseLegacyScheme(rest, cryptoKey);
  return fail(`unsupported Authorization scheme "${scheme.slice(0, 20)}": expected vapid, WebPush or Bearer`);
}

function parseVapidScheme(rest: string): ParsedVapidHeaders {
  const params = parseParameters(rest, /,/);
  if (!params.ok) return params;
  const jwt = params.value.get('t');
  const key = params.value.get('k');
  if (!jwt) return fail('the vapid Authorization header has no t= parameter');
  if (!key) return fail('the vapid Authorization header has no k= parameter');
  return build(jwt, key, 'k');
}

function parseLegacyScheme(rest: string, cryptoKey: string | undefined): ParsedVapidHeaders {
  if (rest === '' || /\s/.test(rest)) return fail('the Authorization header must be "WebPush <jwt>" or "Bearer <jwt>"');
  if (typeof cryptoKey !== 'string' || cryptoKey.trim() === '') {
    return fail('WebPush/Bearer authorization needs a Crypto-Key header with p256ecdsa=<key>');
  }
  const params = parseParameters(cryptoKey, /[;,]/);
  if (!params.ok) return params;
  const key = params.value.get('p256ecdsa');
  if (!key) return fail('the Crypto-Key header has no p256ecdsa= parameter');
  return build(rest, key, 'p256ecdsa');
}

function build(jwt: string, key: string, keyName: string): ParsedVapidHeaders {
  const publicKey = fromBase64Flexible(key);
  if (!publicKey) return fail(`${keyName} is not base64 or base64url`);
  if (!isP256PublicKey(publicKey)) return fail(`${keyName} is not an uncompressed P-256 public key`);
  return { ok: true, value: { jwt, publicKey } };
}

/**
 * `name=value` pairs, names case-insensitive, values optionally quoted. A repeated name is refused
 * rather than resolved, since either choice could let a proxy and Herald disagree on the key.
 */
function parseParameters(text: string, separator: RegExp): { ok: true; value: Map<string, string> } | { ok: false; reason: string } {
  const params = new Map<string, string>();
  for (const part of text.split(separator)) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return fail(`malformed parameter "${item.slice(0, 20)}"`);
    const name = item.slice(0, eq).trim().toLowerCase();
    let value = item.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (params.has(name)) return fail(`parameter ${name} appears twice`);
    params.set(name, value);
  }
  return { ok: true, value: params };
}

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
