/**
 * The accounts session cookie that single sign-on reads (docs/sso.md): the session token itself,
 * HttpOnly on the accounts origin, so no page script (the accounts server's own included) ever
 * holds it. `__Host-` prefixed where the browser allows it (TLS or loopback). SameSite=Lax, not
 * Strict: the cross-site flow is a top-level GET navigation from the relying site, which Lax lets
 * carry the cookie while cross-site subresource and POST requests still go without it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { accountErrors } from './errors.js';

export interface SsoCookie {
  name: string;
  secure: boolean;
}

export function ssoCookie(accountsOrigin: string): SsoCookie {
  const url = new URL(accountsOrigin);
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  const secure = url.protocol === 'https:' || loopback;
  return { name: secure ? '__Host-herald-accounts' : 'herald-accounts', secure };
}

export function readSsoCookie(request: FastifyRequest, cookie: SsoCookie): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === cookie.name) return part.slice(at + 1).trim();
  }
  return null;
}

/** `maxAgeSeconds` 0 deletes it. */
export function setSsoCookie(reply: FastifyReply, cookie: SsoCookie, value: string, maxAgeSeconds: number): void {
  const parts = [`${cookie.name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeSeconds}`];
  if (cookie.secure) parts.push('Secure');
  reply.header('set-cookie', parts.join('; '));
}

/**
 * State-changing SSO requests (sign-in, sign-out, minting a frame payload) come only from the
 * accounts origin's own pages: Fetch Metadata when the browser sends it, else an exact Origin.
 */
export function requireSameOrigin(request: FastifyRequest, accountsOrigin: string): void {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') {
    if (site !== 'same-origin') throw accountErrors.error('ssoCrossSite');
    return;
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== accountsOrigin) throw accountErrors.error('ssoCrossSite');
}
