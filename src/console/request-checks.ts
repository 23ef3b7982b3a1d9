/**
 * What every console request passes before a route sees it: the security headers on every
 * answer, and for the API the Fetch Metadata / Origin check and the JSON-only rule for unsafe
 * methods. They run in `onRequest`, before fastify reads a body, so a cross-site form POST is
 * refused before its body is even parsed.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { consoleErrors } from './errors.js';

/**
 * No inline script or style, nothing from elsewhere, never framed: the pages are static files
 * from 'self', and the API is fetched from 'self'.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function addSecurityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=()');
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isUnsafe(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

/**
 * Fetch Metadata first: a browser says where a request comes from in Sec-Fetch-Site, and only
 * `same-origin` (the console's own script) or `none` (typed in the address bar) may change
 * anything. A same-site page on another port is `same-site` and is refused too. Without the
 * header (an old browser, a proxy that strips it, a script), the Origin must be exactly the
 * configured console origin; never compared with Host, which the client chooses.
 * API reads from another site are refused as well: nothing there is meant to be embedded.
 */
export function checkRequestOrigin(request: FastifyRequest, consoleOrigin: string): void {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') {
    if (site === 'same-origin' || site === 'none') return;
    if (isUnsafe(request.method) || site === 'cross-site') throw consoleErrors.error('crossSite');
    return;
  }
  if (!isUnsafe(request.method)) return;
  if (request.headers.origin !== consoleOrigin) throw consoleErrors.error('crossSite');
}

/**
 * Unsafe methods take only application/json: a browser can send a form or text/plain body from
 * any page without a preflight, but not JSON.
 */
export function checkJsonBody(request: FastifyRequest): void {
  if (!isUnsafe(request.method)) return;
  const type = request.headers['content-type'];
  const essence = typeof type === 'string' ? (type.split(';')[0] ?? '').trim().toLowerCase() : '';
  if (essence !== 'application/json') throw consoleErrors.error('notJson');
}
