/**
 * The sign-in page of the cross-site flow (docs/sso.md): what `/v1/sso/authorize` shows a browser
 * that has no accounts session, instead of a bare 401. Static HTML and a script file (the CSP has
 * no 'unsafe-inline'); the script posts the password to `POST /v1/sso/session` (same-origin only,
 * JSON only, the login budgets: the accounts server's login-CSRF and brute-force protections) and,
 * once the cookie is set, loads the same authorize URL again, which now redirects with a code.
 * The page is served only after client, redirect URI and PKCE were checked.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const SIGN_IN_SCRIPT = `'use strict';
(function () {
  var form = document.getElementById('sign-in');
  var status = document.getElementById('status');
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    status.textContent = '';
    var body = JSON.stringify({ email: form.elements.email.value, password: form.elements.password.value });
    fetch('/v1/sso/session', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: body })
      .then(function (response) {
        if (response.status === 200) { window.location.replace(window.location.href); return; }
        return response.json().then(function (answer) {
          status.textContent = answer.errno === 420 ? 'Wrong email or password.' :
            answer.errno === 429 ? 'Too many attempts; try again later.' : 'Sign-in failed (' + answer.errno + ').';
        });
      }, function () { status.textContent = 'The accounts server could not be reached.'; });
  });
})();
`;

const SIGN_IN_STYLE = `body{font:16px system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}#status{color:#a00;min-height:1.5em}`;

const escapeText = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A browser navigating (Accept names HTML) gets the page; an API client keeps the 401 envelope. */
export function wantsHtml(request: FastifyRequest): boolean {
  return /\btext\/html\b/.test(request.headers.accept ?? '');
}

export function sendSignInPage(reply: FastifyReply, appOrigin: string): FastifyReply {
  return reply
    .header(
      'content-security-policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    )
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
        '<title>Sign in with Herald</title><link rel="stylesheet" href="/v1/sso/sign-in.css"><script src="/v1/sso/sign-in.js" defer></script></head><body>' +
        `<h1>Sign in</h1><p>to continue to <strong id="app-origin">${escapeText(appOrigin)}</strong></p>` +
        '<form id="sign-in"><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>' +
        '<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>' +
        '<button type="submit">Sign in</button><p id="status" role="status"></p></form></body></html>',
    );
}

export function registerSsoSignInAssets(scope: FastifyInstance): void {
  scope.get('/v1/sso/sign-in.js', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').type('text/javascript; charset=utf-8').send(SIGN_IN_SCRIPT);
  });
  scope.get('/v1/sso/sign-in.css', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').type('text/css; charset=utf-8').send(SIGN_IN_STYLE);
  });
}
