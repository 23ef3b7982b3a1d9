/**
 * Single sign-on on top of the accounts World: a registered relying app with its key, a browser's
 * accounts cookie, and a fetch that reaches the World by inject (the relying back end's back channel).
 */
import { createHash, randomBytes } from 'node:crypto';
import { addSsoKey, ssoKeysPath } from '../../src/accounts/sso-keys.js';
import { SsoRelyingParty, type RelyingPartyOptions } from '../../src/client/sso.js';
import { GOOD_PASSWORD, ORIGIN, type World } from './harness.js';

export interface TestApp {
  clientId: string;
  origin: string;
  redirectUri: string;
  keys: Record<string, string>;
}

export async function registerApp(world: World, clientId: string, origin: string): Promise<TestApp> {
  const redirectUri = `${origin}/sso/callback`;
  await world.store.sso.addApp({ clientId, redirectUri, origin, createdAt: world.clock });
  return { clientId, origin, redirectUri, ...withKey(world, clientId, {}) };
}

/** Rotates (or creates) the app's sealing key; the relying side adds it to the keys it holds. */
export function withKey(world: World, clientId: string, keys: Record<string, string>): { keys: Record<string, string> } {
  const key = addSsoKey(ssoKeysPath(world.dataDir), clientId, world.clock);
  return { keys: { ...keys, [key.cipherId]: key.key.toString('base64url') } };
}

/** Signs in at the accounts origin as a browser would; answers the Cookie header to send. */
export async function browserCookie(world: World, email: string): Promise<string> {
  await world.createAccount(email);
  const answer = await world.request('POST', '/v1/sso/session', { body: { email, password: GOOD_PASSWORD }, headers: { origin: ORIGIN } });
  if (answer.status !== 200) throw new Error(`sso session answered ${answer.status}`);
  const setCookie = String(answer.headers['set-cookie']);
  return setCookie.split(';')[0] as string;
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(app: TestApp, challenge: string, overrides: Record<string, string | null> = {}): string {
  const params: Record<string, string | null> = {
    client_id: app.clientId,
    redirect_uri: app.redirectUri,
    state: 'st4te',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  const query = new URLSearchParams(Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== null));
  return `/v1/sso/authorize?${query.toString()}`;
}

/** A code, as the browser's redirect carries it back. */
export async function codeFor(world: World, app: TestApp, cookie: string, challenge: string): Promise<string> {
  const answer = await world.request('GET', authorizeUrl(app, challenge), { headers: { cookie } });
  if (answer.status !== 302) throw new Error(`authorize answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return new URL(String(answer.headers.location)).searchParams.get('code') as string;
}

/** fetch over inject: the relying back end's calls reach the World without a socket. */
export function injectFetch(world: World, rewrite?: (path: string, body: string) => string): typeof fetch {
  return (async (input: URL | string, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const response = await world.app.inject({
      method: (init.method ?? 'GET') as 'GET' | 'POST',
      url: url.pathname + url.search,
      headers: (init.headers ?? {}) as Record<string, string>,
      ...(typeof init.body === 'string' ? { payload: init.body } : {}),
    });
    const body = rewrite ? rewrite(url.pathname, response.body) : response.body;
    return new Response(response.statusCode === 204 ? null : body, { status: response.statusCode, headers: { 'content-type': String(response.headers['content-type'] ?? '') } });
  }) as typeof fetch;
}

export function relyingParty(world: World, app: TestApp, options: Partial<RelyingPartyOptions> = {}): SsoRelyingParty {
  return new SsoRelyingParty({
    accountsUrl: ORIGIN,
    origin: app.origin,
    clientId: app.clientId,
    keys: app.keys,
    fetch: injectFetch(world),
    now: () => world.clock,
    ...options,
  });
}

/** A payload made by the accounts server through the redirect flow, as the back end receives it. */
export async function payloadFor(world: World, app: TestApp, cookie: string): Promise<{ packet: string; cipherId: string }> {
  const { verifier, challenge } = pkce();
  const code = await codeFor(world, app, cookie, challenge);
  const answer = await world.request('POST', '/v1/sso/token', { body: { client_id: app.clientId, code, code_verifier: verifier, redirect_uri: app.redirectUri } });
  if (answer.status !== 200) throw new Error(`token answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return (answer.body as { recoveryPayload: { packet: string; cipherId: string } }).recoveryPayload;
}
