/**
 * The guard in front of an HTTP route that names no subscription (the token server): a banned
 * source is refused, then one per-source limit is counted. The route maps a refusal to its own
 * error table, so this file knows the guard and fastify's request, not any answer's shape.
 */
import type { FastifyRequest } from 'fastify';
import type { Guard, Refusal, RequestLimit } from './guard.js';

export type RequestGate = (request: FastifyRequest) => Promise<Refusal | null>;

export function requestGate(guard: Guard, limit: RequestLimit): RequestGate {
  return async (request) => {
    const source = guard.source(request.socket.remoteAddress, request.headers['x-forwarded-for']);
    return (await guard.banned(source)) ?? (await guard.limitRequests(source, limit));
  };
}
