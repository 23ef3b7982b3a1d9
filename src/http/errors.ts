/**
 * Herald's one error vocabulary for its HTTP servers. Each server defines its errors once, in a
 * table (status, message and, for the envelope, errno), and throws only `HttpError`s made from that
 * table. One fastify error handler turns whatever else a route or fastify throws into one of them;
 * the table renders the body. Failures are told apart by their code name (`table.is(error, 'x')`),
 * never by a bare errno or status.
 *
 * This folder sits below every part: it imports fastify's types and nothing of Herald's.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** What every error of every table has. */
export interface ErrorDefinition {
  readonly status: number;
  /** The sentence a person reads; a thrown error may append a detail to it. */
  readonly message: string;
}

/** An error answered in the `{code, errno, error, message, more_info}` envelope. */
export interface EnvelopeDefinition extends ErrorDefinition {
  /** Which rule failed; clients switch on it (docs/errors.md, docs/accounts.md). */
  readonly errno: number;
}

/** The part of the request at fault, for bodies that name it (the token server's). */
export interface RequestPart {
  location: 'header' | 'body' | 'url';
  /** The header or field name. */
  name: string;
}

export interface HttpErrorOptions {
  /** A more precise explanation for the client; never ids, secrets or echoed input. */
  detail?: string;
  /** The underlying failure, for the error log only; never sent. */
  cause?: unknown;
  /** Retry-After for 429 and 503 answers; unset: 30 s. */
  retryAfterSeconds?: number;
  at?: RequestPart;
}

/** One error of one table: `code` names it, `definition` is its row. */
export class HttpError<Code extends string = string, Definition extends ErrorDefinition = ErrorDefinition> extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly definition: Definition;
  readonly detail: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly at: RequestPart | undefined;

  constructor(
    /** The table it comes from (compared by identity: two tables may use the same code name). */
    readonly table: object,
    readonly code: Code,
    definition: Definition,
    options: HttpErrorOptions = {},
  ) {
    const { detail, cause } = options;
    super(detail ? `${definition.message}: ${detail}` : definition.message, cause === undefined ? undefined : { cause });
    this.definition = definition;
    this.status = definition.status;
    this.detail = detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.at = options.at;
  }
}

/** A server's errors, defined once, with the body its clients read. */
export class ErrorTable<Code extends string, Definition extends ErrorDefinition> {
  constructor(
    readonly definitions: Readonly<Record<Code, Definition>>,
    private readonly body: (error: HttpError<Code, Definition>) => object,
  ) {}

  error(code: Code, options?: HttpErrorOptions): HttpError<Code, Definition> {
    return new HttpError(this, code, this.definitions[code], options);
  }

  /** Whether `error` is an error of this table (and, when codes are given, one of those). */
  is(error: unknown, ...codes: readonly Code[]): error is HttpError<Code, Definition> {
    if (!(error instanceof HttpError) || error.table !== this) return false;
    return codes.length === 0 || (codes as readonly string[]).includes(error.code);
  }

  send(reply: FastifyReply, error: HttpError<Code, Definition>): void {
    // Gone is permanent: senders may cache it (autopush sends the same).
    if (error.status === 410) reply.header('cache-control', 'max-age=86400');
    if (error.status === 429 || error.status === 503) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds ?? 30))));
    }
    reply.code(error.status).type('application/json').send(this.body(error));
  }
}

export interface ErrorEnvelope {
  code: number;
  errno: number;
  /** The status's reason phrase. */
  error: string;
  message: string;
  /** Where the errors are explained. */
  more_info: string;
}

export function errorEnvelope<Code extends string>(error: HttpError<Code, EnvelopeDefinition>, moreInfo: string): ErrorEnvelope {
  return {
    code: error.status,
    errno: error.definition.errno,
    error: STATUS_CODES[error.status] ?? 'Error',
    message: error.message,
    more_info: moreInfo,
  };
}

/** A table answered in the envelope, `moreInfo` being the page that lists its errnos. */
export function envelopeErrors<Code extends string>(
  moreInfo: string,
  definitions: Readonly<Record<Code, EnvelopeDefinition>>,
): ErrorTable<Code, EnvelopeDefinition> {
  return new ErrorTable<Code, EnvelopeDefinition>(definitions, (error) => errorEnvelope(error, moreInfo));
}

export interface ErrorHandling<Code extends string, Definition extends ErrorDefinition> {
  /** What fastify's own refusals of a request become (unparsable or oversized body, wrong content type). */
  requestError(error: FastifyError): HttpError<Code, Definition>;
  /** What anything else thrown becomes (a bug or a failed dependency). */
  internalError(thrown: unknown): HttpError<Code, Definition>;
  /** Answers the routes this scope does not know; unset: fastify's default. */
  notFound?: () => HttpError<Code, Definition>;
  /**
   * Told of every error answer (not of `notFound`) before it is sent, with what was thrown, so
   * bans can count and a 5xx can be logged with its cause.
   */
  failed?(error: HttpError<Code, Definition>, request: FastifyRequest, thrown: unknown): void | Promise<void>;
}

/** Installs the scope's error handler (and its not-found handler when asked): every answer from `table`. */
export function handleErrors<Code extends string, Definition extends ErrorDefinition>(
  scope: FastifyInstance,
  table: ErrorTable<Code, Definition>,
  handling: ErrorHandling<Code, Definition>,
): void {
  scope.setErrorHandler(async (thrown, request, reply) => {
    const error = table.is(thrown) ? thrown : isRequestError(thrown) ? handling.requestError(thrown) : handling.internalError(thrown);
    await handling.failed?.(error, request, thrown);
    table.send(reply, error);
  });
  const { notFound } = handling;
  if (notFound) scope.setNotFoundHandler((_request, reply) => table.send(reply, notFound()));
}

/**
 * For `Fastify({ frameworkErrors })`: what fails before any route runs (a path that does not
 * decode, a bad header) answered from `table`.
 */
export function frameworkErrorHandler<Code extends string, Definition extends ErrorDefinition>(
  table: ErrorTable<Code, Definition>,
  toError: (error: FastifyError) => HttpError<Code, Definition>,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, _request, reply) => table.send(reply, toError(error));
}

/** fastify refuses a request it cannot take (FST_ERR_CTP_*, JSON syntax, body limit) with a 4xx statusCode. */
function isRequestError(thrown: unknown): thrown is FastifyError {
  const status = (thrown as { statusCode?: unknown } | null | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}
