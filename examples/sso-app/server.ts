/**
 * Runs the example relying app (app.ts) for Herald's single sign-on (docs/sso.md).
 *
 *   herald admin accounts sso-app add example --redirect-uri http://app.localhost:3000/sso/callback --origin http://app.localhost:3000
 *   HERALD_ACCOUNTS=http://127.0.0.1:8080 SSO_KEYS='<cipherId>:<key>' npx tsx examples/sso-app/server.ts
 *
 * GET /login starts the redirect flow; /sso/callback finishes it; GET /frame signs in through the
 * accounts frame (same-site apps); POST /sso/backchannel-logout takes the accounts server's
 * sign-out. Sessions are kept in memory.
 */
import { buildSsoApp } from './app.js';

const keys = Object.fromEntries((process.env.SSO_KEYS ?? '').split(',').filter(Boolean).map((pair) => pair.split(':') as [string, string]));
const { app } = buildSsoApp({
  accountsUrl: process.env.HERALD_ACCOUNTS ?? 'http://127.0.0.1:8080',
  origin: process.env.APP_ORIGIN ?? 'http://app.localhost:3000',
  clientId: process.env.SSO_CLIENT_ID ?? 'example',
  keys,
  logger: true,
});
await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
