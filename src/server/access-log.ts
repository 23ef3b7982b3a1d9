/**
 * The optional access log (`log.requests = true`): one info line per HTTP request with its method,
 * the route *pattern* (`/wpush/v1/:token`, never the token itself), status, errno for an error
 * answer, and duration. No address, header, query or body is logged: endpoint tokens and message
 * ids are capabilities, and Herald keeps no record of who sent what (docs/privacy.md).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

export function addAccessLog(app: FastifyInstance, logger: Logger): void {
  const log = logger.child({ part: 'access' });
  const errnos = new WeakMap<object, number>();
  app.addHook('onSend', async (request, reply, payload) => {
    // Error bodies are small JSON envelopes; successes are not parsed.
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.startsWith('{')) {
      try {
        const errno = (JSON.parse(payload) as { errno?: unknown }).errno;
        if (typeof errno === 'number') errnos.set(request, errno);
      } catch {
        // not an envelope: no errno to log
      }
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const errno = errnos.get(request);
    log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(no route)',
        status: reply.statusCode,
        ...(errno === undefined ? {} : { errno }),
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });
}
