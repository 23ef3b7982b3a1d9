/**
 * Single sign-on for same-site relying apps (docs/sso.md): a frame page on the accounts origin
 * that only listed origins may frame (CSP frame-ancestors), whose script answers only messages
 * from listed origins and replies to event.origin alone. The payload is minted by a same-origin
 * POST that carries the HttpOnly session cookie; the server checks the origin again.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AccountsDeps } from './deps.js';
import { accountErrors } from './errors.js';
import { authenticateToken, LIMITED_BODY, parse } from './request-parts.js';
import { readSsoCookie, requireSameOrigin, ssoCookie } from './sso-cookie.js';
import { mintPayload } from './sso-flow.js';

const payloadBody = z.object({ origin: z.string().max(2048) }).strict();

// Plain script, served as a file so the CSP needs no 'unsafe-inline'.
const FRAME_SCRIPT = `'use strict';
(function () {
  var origins = JSON.parse(document.documentElement.getAttribute('data-origins') || '[]');
  window.addEventListener('message', function (event) {
    if (origins.indexOf(event.origin) < 0) return;
    if (!event.data || event.data.type !== 'herald-sso-recover' || !event.source) return;
    var source = event.source, origin = event.origin;
    fetch('/v1/sso/frame/payload', {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ origin: origin })
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (answer) {
      source.postMessage(answer.status === 200
        ? { type: 'herald-sso-payload', recoveryPayload: answer.body.recoveryPayload }
        : { type: 'herald-sso-none', errno: answer.body.errno }, origin);
    }, function () { source.postMessage({ type: 'herald-sso-none', errno: 0 }, origin); });
  });
  if (window.parent !== window) {
    for (var i = 0; i < origins.length; i++) {
      try { window.parent.postMessage({ type: 'herald-sso-ready' }, origins[i]); } catch (e) { /* not that one */ }
    }
  }
})();
`;

const escapeAttribute = (text: string): string => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function registerSsoFrameRoutes(scope: FastifyInstance, deps: AccountsDeps): void {
  scope.get('/v1/sso/frame', async (_request, reply) => {
    const origins = [...new Set((await deps.store.sso.listApps()).map((app) => app.origin))];
    const ancestors = origins.length > 0 ? origins.join(' ') : "'none'";
    reply
      .header('content-security-policy', `default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors ${ancestors}`)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html data-origins="${escapeAttribute(JSON.stringify(origins))}"><head><meta charset="utf-8"><title>Herald sign-in frame</title>` +
          `<script src="/v1/sso/frame.js"></script></head><body></body></html>`,
      );
  });

  scope.get('/v1/sso/frame.js', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').type('text/javascript; charset=utf-8').send(FRAME_SCRIPT);
  });

  scope.post('/v1/sso/frame/payload', LIMITED_BODY, async (request, reply) => {
    requireSameOrigin(request, deps.assertion().issuer);
    const body = parse(payloadBody, request.body);
    const app = await deps.store.sso.appByOrigin(body.origin);
    if (!app) throw accountErrors.error('ssoOriginNotListed');
    const token = readSsoCookie(request, ssoCookie(deps.assertion().issuer));
    if (!token) throw accountErrors.error('ssoLoginRequired');
    const signedIn = await authenticateToken(deps, token).catch((error: unknown) => {
      if (accountErrors.is(error, 'invalidSession')) throw accountErrors.error('ssoLoginRequired');
      throw error;
    });
    reply.header('cache-control', 'no-store').send({ recoveryPayload: await mintPayload(deps, app, signedIn.account.id, signedIn.session.id) });
  });
}
