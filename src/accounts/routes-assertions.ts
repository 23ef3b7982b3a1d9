/** What relying services verify: the signing keys, identity assertions, the signed profile. */
import type { FastifyInstance } from 'fastify';
import { issueAssertion, signProfile } from './assertions.js';
import type { AccountsDeps } from './deps.js';
import { authenticate } from './request-parts.js';

export function registerAssertionRoutes(scope: FastifyInstance, deps: AccountsDeps): void {
  scope.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300').send(deps.signingKeys.jwks());
  });

  scope.post('/v1/assertion', async (request, reply) => {
    const { account } = await authenticate(deps, request);
    reply.send(await issueAssertion(deps.signingKeys, deps.assertion(), account, deps.now()));
  });

  scope.get('/v1/profile', async (request, reply) => {
    const { account } = await authenticate(deps, request);
    reply.type('application/jwt').send(await signProfile(deps.signingKeys, deps.assertion().issuer, account, deps.now()));
  });
}
