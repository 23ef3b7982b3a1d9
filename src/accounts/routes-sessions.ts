/** An account's sessions: end this one, list them, end another (docs/accounts.md). */
import type { FastifyInstance } from 'fastify';
import type { AccountsDeps } from './deps.js';
import { accountErrors } from './errors.js';
import { authenticate } from './request-parts.js';
import { sessionOver } from './sign-in.js';

export function registerSessionRoutes(scope: FastifyInstance, deps: AccountsDeps): void {
  scope.post('/v1/session/destroy', async (request, reply) => {
    const { session } = await authenticate(deps, request);
    await deps.store.deleteSession(session.accountId, session.id);
    reply.code(204).send();
  });

  scope.get('/v1/account/sessions', async (request, reply) => {
    const { session } = await authenticate(deps, request);
    const now = deps.now();
    const sessions = (await deps.store.listSessions(session.accountId)).filter((each) => !sessionOver(deps.sessions, each, now));
    reply.send({
      sessions: sessions.map((s) => ({ id: s.id, createdAt: s.createdAt, lastUsedAt: s.lastUsedAt, current: s.id === session.id })),
    });
  });

  scope.delete<{ Params: { id: string } }>('/v1/account/sessions/:id', async (request, reply) => {
    const { session } = await authenticate(deps, request);
    const id = request.params.id;
    if (!/^[0-9a-f]{32}$/.test(id) || !(await deps.store.deleteSession(session.accountId, id))) throw accountErrors.error('sessionNotFound');
    reply.code(204).send();
  });
}
