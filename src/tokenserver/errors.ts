/**
 * Every error the token server answers, defined once, in the body shape its clients already read:
 * `{"status": "<name>", "errors": [{"location": "header|body|url", "name": "<field>", "description": "<text>"}]}`.
 */
import type { FastifyReply } from 'fastify';

export const TOKEN_ERRORS = {
  invalidCredentials: { status: 401, name: 'invalid-credentials' },
  invalidClientState: { status: 401, name: 'invalid-client-state' },
  invalidGeneration: { status: 401, name: 'invalid-generation' },
  invalidKeysChangedAt: { status: 401, name: 'invalid-keysChangedAt' },
  unknownService: { status: 404, name: 'unknown-service' },
  notFound: { status: 404, name: 'not-found' },
  noNode: { status: 503, name: 'node-unavailable' },
  internal: { status: 500, name: 'internal-error' },
} as const satisfies Record<string, { status: number; name: string }>;

export type TokenErrorCode = keyof typeof TOKEN_ERRORS;

export class TokenServerError extends Error {
  readonly status: number;
  readonly statusName: string;
  constructor(
    readonly code: TokenErrorCode,
    readonly location: 'header' | 'body' | 'url',
    /** The header or field at fault. */
    readonly field: string,
    /** Says what was wrong; never echoes the value. */
    readonly description: string,
  ) {
    super(description);
    this.name = 'TokenServerError';
    this.status = TOKEN_ERRORS[code].status;
    this.statusName = TOKEN_ERRORS[code].name;
  }
}

export function sendTokenError(reply: FastifyReply, error: TokenServerError): void {
  if (error.status === 503) reply.header('retry-after', '30');
  reply
    .code(error.status)
    .type('application/json')
    .send({ status: error.statusName, errors: [{ location: error.location, name: error.field, description: error.description }] });
}
