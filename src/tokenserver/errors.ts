/**
 * Every error the token server answers, defined once (src/http/errors.ts), in the body shape its
 * clients already read (Mozilla's token server):
 * `{"status": "<name>", "errors": [{"location": "header|body|url", "name": "<field>", "description": "<text>"}]}`.
 * The `name` of a row is that status; these clients read no errno.
 */
import { ErrorTable, type ErrorDefinition, type HttpError, type RequestPart } from '../http/errors.js';

interface TokenErrorDefinition extends ErrorDefinition {
  /** The body's `status`. */
  readonly name: string;
}

const TOKEN_ERRORS = {
  invalidCredentials: { status: 401, name: 'invalid-credentials', message: 'the assertion or key id is not valid' },
  invalidClientState: { status: 401, name: 'invalid-client-state', message: 'the client state is not accepted' },
  invalidGeneration: { status: 401, name: 'invalid-generation', message: 'the generation is lower than recorded' },
  invalidKeysChangedAt: { status: 401, name: 'invalid-keysChangedAt', message: 'keys_changed_at is not accepted' },
  unknownService: { status: 404, name: 'unknown-service', message: 'unknown service or version' },
  // What fastify itself refuses (a request it cannot take) answers as an unknown URL.
  notFound: { status: 404, name: 'not-found', message: 'bad request' },
  rateLimited: { status: 429, name: 'rate-limited', message: 'too many requests from this address; retry after Retry-After' },
  noNode: { status: 503, name: 'node-unavailable', message: 'no node of this service has free capacity' },
  internal: { status: 500, name: 'internal-error', message: 'internal error' },
} as const satisfies Record<string, TokenErrorDefinition>;

export type TokenErrorCode = keyof typeof TOKEN_ERRORS;
export type TokenError = HttpError<TokenErrorCode, TokenErrorDefinition>;

export const tokenErrors = new ErrorTable<TokenErrorCode, TokenErrorDefinition>(TOKEN_ERRORS, (error) => ({
  status: error.definition.name,
  errors: [{ location: error.at?.location ?? 'body', name: error.at?.name ?? '', description: error.detail ?? error.definition.message }],
}));

/** A refusal naming the header or field at fault; `description` says what was wrong and never echoes the value. */
export function tokenError(code: TokenErrorCode, location: RequestPart['location'], field: string, description?: string): TokenError {
  return tokenErrors.error(code, { at: { location, name: field }, ...(description === undefined ? {} : { detail: description }) });
}
