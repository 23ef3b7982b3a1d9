/**
 * Guard state for operators, on the admin listener only (never on a public one): GET /admin/bans
 * lists the sources currently refused (`herald admin bans list`), DELETE /admin/bans/:source ends
 * one ban (`herald admin bans lift`).
 */
import type { FastifyInstance } from 'fastify';
import type { Guard } from './guard.js';

export interface BanView {
  source: string;
  reason: string;
  expiresAt: string;
  remainingSeconds: number;
}

export function registerGuardAdminRoutes(app: FastifyInstance, guard: Guard): void {
  app.get('/admin/bans', async (_request, reply) => {
    const now = guard.now();
    const bans: BanView[] = (await guard.listBans())
      .filter((ban) => ban.expiresAt > now)
      .sort((a, b) => a.expiresAt - b.expiresAt)
      .map((ban) => ({
        source: ban.source,
        reason: ban.reason,
        expiresAt: new Date(ban.expiresAt).toISOString(),
        remainingSeconds: Math.ceil((ban.expiresAt - now) / 1000),
      }));
    reply.header('cache-control', 'no-store').send({ bans });
  });

  app.delete<{ Params: { source: string } }>('/admin/bans/:source', async (request, reply) => {
    reply.header('cache-control', 'no-store').send(await guard.liftBan(request.params.source));
  });
}
