/**
 * Single sign-on's routes (docs/sso.md): the accounts session cookie (sign in, sign out), the
 * cross-site redirect flow (authorize, token) and the same-site frame (routes-sso-frame.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccountsDeps } from './deps.js';
import { accountErrors } from './errors.js';
import { authenticateToken, credentialsBody, LIMITED_BODY, openSession, parse, sourceOf } from './request-parts.js';
import { registerSsoFrameRoutes } from './routes-sso-frame.js';
import { registerSsoSignInAssets, sendSignInPage, wantsHtml } from './routes-sso-sign-in.js';
import type { PasswordChecker } from './sign-in.js';
import { BackchannelSignOut } from './sso-backchannel.js';
import { readSsoCookie, requireSameOrigin, setSsoCookie, ssoCookie } from './sso-cookie.js';
import { authorizeQuery, checkAuthorize, exchangeCode, issueCode, redirectWithCode, tokenBody } from './sso-flow.js';

export function registerSsoRoutes(scope: FastifyInstance, deps: AccountsDeps, passwords: PasswordChecker): void {
  const origin = (): string => deps.assertion().issuer;
  const cookie = () => ssoCookie(origin());
  const backchannel = new BackchannelSignOut(deps, {
    onUndelivered: (clientId, reason) => deps.onError?.(new Error(`back-channel sign-out to SSO app ${clientId} not delivered: ${reason}`)),
  });

  scope.post('/v1/sso/session', LIMITED_BODY, async (request, reply) => {
    requireSameOrigin(request, origin());
    const body = parse(credentialsBody, request.body);
    const outcome = await passwords.signIn(body.email, body.password, sourceOf(deps, request).key);
    if (outcome.kind === 'rateLimited') throw accountErrors.error('rateLimited', { retryAfterSeconds: outcome.retryAfterSeconds });
    if (outcome.kind === 'badCredentials') throw accountErrors.error('badCredentials');
    const now = deps.now();
    await deps.store.setLastAuthAt(outcome.account.id, now);
    const { sessionId, sessionToken } = await openSession(deps, outcome.account.id, now);
    // The token goes only into the HttpOnly cookie, never into the body a script reads.
    setSsoCookie(reply, cookie(), sessionToken, Math.floor(deps.sessions.lifetimeMs / 1000));
    noStore(reply).send({ uid: outcome.account.id, sessionId });
  });

  scope.delete('/v1/sso/session', async (request, reply) => {
    requireSameOrigin(request, origin());
    const token = readSsoCookie(request, cookie());
    if (token) {
      const signedIn = await authenticateToken(deps, token).catch(() => null);
      if (signedIn) {
        await deps.store.deleteSession(signedIn.session.accountId, signedIn.session.id);
        // The apps' sessions end now; telling the apps runs after this answer.
        await backchannel.signedOut(signedIn.session.accountId, signedIn.session.id);
      }
    }
    setSsoCookie(reply, cookie(), '', 0);
    noStore(reply).code(204).send();
  });

  scope.get('/v1/sso/authorize', (request, reply) => authorize(deps, cookie(), request, reply));

  scope.post('/v1/sso/token', LIMITED_BODY, async (request, reply) => {
    const body = parse(tokenBody, request.body);
    noStore(reply).send({ recoveryPayload: await exchangeCode(deps, body) });
  });

  registerSsoFrameRoutes(scope, deps);
  registerSsoSignInAssets(scope);
}

/** A code for the app when the browser has an accounts session; else the sign-in page (browsers) or 401. */
async function authorize(deps: AccountsDeps, cookie: ReturnType<typeof ssoCookie>, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const query = parse(authorizeQuery, request.query);
  // Every refusal is answered here, never redirected: until client and redirect_uri are checked
  // the redirect target is the attacker's to choose.
  const app = await checkAuthorize(deps, query);
  const token = readSsoCookie(request, cookie);
  const signedIn = token
    ? await authenticateToken(deps, token).catch((error: unknown) => {
        if (accountErrors.is(error, 'invalidSession')) return null;
        throw error;
      })
    : null;
  if (!signedIn) {
    // A browser gets the sign-in page, which comes back here once signed in; an API client the 401.
    if (wantsHtml(request)) return sendSignInPage(reply, app.origin);
    throw accountErrors.error('ssoLoginRequired');
  }
  const code = await issueCode(deps, app, app.challenge, signedIn.session);
  return noStore(reply).header('referrer-policy', 'no-referrer').redirect(redirectWithCode(app.redirectUri, code, query.state), 302);
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store');
}
