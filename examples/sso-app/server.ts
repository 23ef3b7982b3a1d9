/**
 * A tiny relying app for Herald's single sign-on (docs/sso.md), on fastify.
 *
 *   herald admin accounts sso-app add example --redirect-uri http://app.localhost:3000/sso/callback --origin http://app.localhost:3000
 *   HERALD_ACCOUNTS=http://127.0.0.1:8080 SSO_KEYS='<cipherId>:<key>' npx tsx examples/sso-app/server.ts
 *
 * GET /login starts the redirect flow; /sso/callback finishes it; POST /sso/recover takes a frame
 * payload (same-site apps; the page loads /herald-sso.js). Sessions are kept in memory.
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { SSO_BROWSER_SCRIPT, SsoRelyingParty, type SsoOutcome, type SsoProfile } from '../../src/client/index.js';

const origin = process.env.APP_ORIGIN ?? 'http://app.localhost:3000';
const redirectUri = `${origin}/sso/callback`;
const keys = Object.fromEntries((process.env.SSO_KEYS ?? '').split(',').filter(Boolean).map((pair) => pair.split(':') as [string, string]));
const sso = new SsoRelyingParty({ accountsUrl: process.env.HERALD_ACCOUNTS ?? 'http://127.0.0.1:8080', origin, clientId: process.env.SSO_CLIENT_ID ?? 'example', keys });

const sessions = new Map<string, SsoProfile>();
const pending = new Map<string, { state: string; verifier: string; until: number }>();
const cookieOf = (header: string | undefined, name: string): string | undefined =>
  (header ?? '').split(/;\s*/).find((part) => part.startsWith(`${name}=`))?.slice(name.length + 1);

const app = Fastify({ logger: true });

function signIn(outcome: SsoOutcome, reply: import('fastify').FastifyReply): boolean {
  if (outcome.status !== 204 || !('profile' in outcome)) {
    reply.code(outcome.status).send('body' in outcome ? outcome.body : {});
    return false;
  }
  const id = randomBytes(32).toString('hex');
  sessions.set(id, outcome.profile);
  reply.header('set-cookie', `app-session=${id}; Path=/; HttpOnly; SameSite=Lax`);
  return true;
}

app.get('/', async (request, reply) => {
  const profile = sessions.get(cookieOf(request.headers.cookie, 'app-session') ?? '');
  reply.type('text/html').send(profile ? `<p>Signed in as ${profile.email.replace(/[<&]/g, '')}</p>` : '<p><a href="/login">Sign in with Herald</a></p>');
});

app.get('/login', async (_request, reply) => {
  const start = sso.startRedirect(redirectUri);
  const flow = randomBytes(16).toString('hex');
  pending.set(flow, { state: start.state, verifier: start.verifier, until: Date.now() + 600_000 });
  reply.header('set-cookie', `app-flow=${flow}; Path=/sso; HttpOnly; SameSite=Lax; Max-Age=600`).redirect(start.url, 302);
});

app.get<{ Querystring: { code?: string; state?: string } }>('/sso/callback', async (request, reply) => {
  const flow = cookieOf(request.headers.cookie, 'app-flow') ?? '';
  const kept = pending.get(flow);
  pending.delete(flow);
  const outcome = await sso.finishRedirect(request.query, kept && kept.until > Date.now() ? kept : null, redirectUri);
  if (signIn(outcome, reply)) reply.redirect('/', 302);
});

app.post('/sso/recover', async (request, reply) => {
  if (signIn(await sso.recover(request.body), reply)) reply.code(204).send();
});

app.get('/herald-sso.js', async (_request, reply) => reply.type('text/javascript').send(SSO_BROWSER_SCRIPT));

await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
