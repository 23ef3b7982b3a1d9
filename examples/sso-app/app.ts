/**
 * A small relying app for Herald's single sign-on (docs/sso.md), as a fastify instance: the
 * redirect flow (GET /login → accounts → /sso/callback), the frame flow for same-site apps
 * (GET /frame loads /herald-sso.js and /page.js, which post the payload to POST /sso/recover),
 * and back-channel sign-out (POST /sso/backchannel-logout, the accounts server's signed logout
 * token). Sessions are in memory. server.ts runs it; the browser test runs two of it.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { SSO_BROWSER_SCRIPT, SsoRelyingParty, type RelyingPartyOptions, type SsoOutcome, type SsoProfile } from '../../src/client/index.js';

export interface SsoAppOptions extends RelyingPartyOptions {
  /** The accounts origin as browsers reach it (the frame's origin); default accountsUrl's. */
  accountsBrowserOrigin?: string;
  https?: { cert: string; key: string };
  logger?: boolean;
}

export interface SsoApp {
  app: FastifyInstance;
  sso: SsoRelyingParty;
  /** Session id → who, and the sign-in's sid (what a logout token names), for a test to look at. */
  sessions: Map<string, { profile: SsoProfile; sid: string }>;
}

const PAGE_SCRIPT = `'use strict';
(function () {
  var root = document.documentElement;
  var result = document.getElementById('result');
  if (root.getAttribute('data-signed-in') === 'yes') { result.textContent = 'signed in'; return; }
  HeraldSso.frameSignIn({ accountsOrigin: root.getAttribute('data-accounts'), backend: '/sso/recover' }).then(function (ok) {
    result.textContent = ok ? 'signed in' : 'not signed in';
    root.setAttribute('data-frame', ok ? 'ok' : 'failed');
  });
})();
`;

const cookieOf = (header: string | undefined, name: string): string | undefined =>
  (header ?? '').split(/;\s*/).find((part) => part.startsWith(`${name}=`))?.slice(name.length + 1);
const escapeHtml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Context {
  sso: SsoRelyingParty;
  accountsOrigin: string;
  redirectUri: string;
  secure: boolean;
  sessionCookie: string;
  sessions: SsoApp['sessions'];
  who(cookie: string | undefined): SsoProfile | undefined;
}

export function buildSsoApp(options: SsoAppOptions): SsoApp {
  const secure = options.origin.startsWith('https:');
  const sessionCookie = secure ? '__Host-app-session' : 'app-session';
  const sessions: SsoApp['sessions'] = new Map();
  const context: Context = {
    sso: new SsoRelyingParty(options),
    accountsOrigin: new URL(options.accountsBrowserOrigin ?? options.accountsUrl).origin,
    redirectUri: `${options.origin}/sso/callback`,
    secure,
    sessionCookie,
    sessions,
    who: (cookie) => sessions.get(cookieOf(cookie, sessionCookie) ?? '')?.profile,
  };
  const app = Fastify({ logger: options.logger ?? false, ...(options.https ? { https: options.https } : {}) });
  pageRoutes(app, context);
  signInRoutes(app, context);
  backchannelRoute(app, context);
  return { app, sso: context.sso, sessions };
}

/** The app's own session once the kit answered 204; otherwise its answer, as is. */
function signIn(context: Context, outcome: SsoOutcome, reply: FastifyReply): boolean {
  if (outcome.status !== 204 || !('profile' in outcome)) {
    reply.code(outcome.status).send('body' in outcome ? outcome.body : {});
    return false;
  }
  const id = randomBytes(32).toString('hex');
  context.sessions.set(id, { profile: outcome.profile, sid: outcome.sid });
  reply.header('set-cookie', `${context.sessionCookie}=${id}; Path=/; HttpOnly; SameSite=Lax${context.secure ? '; Secure' : ''}`);
  return true;
}

function pageRoutes(app: FastifyInstance, context: Context): void {
  const page = (reply: FastifyReply, profile: SsoProfile | undefined, withFrame: boolean) =>
    reply
      .header('content-security-policy', `default-src 'none'; script-src 'self'; connect-src 'self'; frame-src ${context.accountsOrigin}; base-uri 'none'; frame-ancestors 'none'`)
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html data-accounts="${escapeHtml(context.accountsOrigin)}" data-signed-in="${profile ? 'yes' : 'no'}"><head><meta charset="utf-8"><title>SSO example</title>` +
          (withFrame ? '<script src="/herald-sso.js" defer></script><script src="/page.js" defer></script>' : '') +
          `</head><body><p id="who">${profile ? `Signed in as ${escapeHtml(profile.email)}` : 'Signed out'}</p><p id="result"></p>` +
          '<p><a id="login" href="/login">Sign in with Herald</a></p></body></html>',
      );
  app.get('/', async (request, reply) => page(reply, context.who(request.headers.cookie), false));
  app.get('/frame', async (request, reply) => page(reply, context.who(request.headers.cookie), true));
  app.get('/me', async (request, reply) => {
    const profile = context.who(request.headers.cookie);
    return profile ? { email: profile.email, sub: profile.sub } : reply.code(401).send({ signedIn: false });
  });
  app.get('/herald-sso.js', async (_request, reply) => reply.type('text/javascript').send(SSO_BROWSER_SCRIPT));
  app.get('/page.js', async (_request, reply) => reply.type('text/javascript').send(PAGE_SCRIPT));
}

function signInRoutes(app: FastifyInstance, context: Context): void {
  const pending = new Map<string, { state: string; verifier: string; until: number }>();
  app.get('/login', async (_request, reply) => {
    const start = context.sso.startRedirect(context.redirectUri);
    const flow = randomBytes(16).toString('hex');
    pending.set(flow, { state: start.state, verifier: start.verifier, until: Date.now() + 600_000 });
    reply.header('set-cookie', `app-flow=${flow}; Path=/sso; HttpOnly; SameSite=Lax; Max-Age=600${context.secure ? '; Secure' : ''}`).redirect(start.url, 302);
  });
  app.get<{ Querystring: { code?: string; state?: string } }>('/sso/callback', async (request, reply) => {
    const flow = cookieOf(request.headers.cookie, 'app-flow') ?? '';
    const kept = pending.get(flow);
    pending.delete(flow);
    const outcome = await context.sso.finishRedirect(request.query, kept && kept.until > Date.now() ? kept : null, context.redirectUri);
    if (signIn(context, outcome, reply)) reply.redirect('/', 302);
  });
  app.post('/sso/recover', async (request, reply) => {
    if (signIn(context, await context.sso.recover(request.body), reply)) reply.code(204).send();
  });
}

/** Back-channel sign-out: the accounts server POSTs logout_token=… (form-encoded) here. */
function backchannelRoute(app: FastifyInstance, context: Context): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_request, body, done) => done(null, body));
  app.post('/sso/backchannel-logout', async (request, reply) => {
    const outcome = await context.sso.verifyLogout(request.body);
    reply.header('cache-control', 'no-store');
    if (outcome.status !== 200 || !('sub' in outcome)) return reply.code(outcome.status).send('body' in outcome ? outcome.body : {});
    for (const [id, session] of context.sessions) {
      if (session.profile.sub === outcome.sub && (outcome.sid === null || session.sid === outcome.sid)) context.sessions.delete(id);
    }
    return reply.code(200).send();
  });
}
