/**
 * What a log line says about an error: its name, its real message and its code, never a stack of
 * request data or an id (they are not in messages). Logged under `error`, not `err`: pino's `err`
 * serializer turns a plain summary into `type:"Object", stack:""`.
 *
 * Errors arrive in several shapes: pg's DatabaseError is named "error"; Node's connect failure to
 * a host with several addresses is an AggregateError with an empty message (the reasons are in
 * `errors`); a store wraps a driver error in `cause`; some libraries reject with plain objects.
 */
export interface ErrorSummary {
  name: string;
  message: string;
  code?: string;
  /** The message of the error this one wraps, when it says something more. */
  cause?: string;
}

export function errorSummary(error: unknown): ErrorSummary {
  if (typeof error !== 'object' || error === null) return { name: 'unknown', message: String(error) };
  const fields = error as { name?: unknown; message?: unknown; code?: unknown; errors?: unknown; cause?: unknown };
  const code = typeof fields.code === 'string' || typeof fields.code === 'number' ? String(fields.code) : undefined;
  let message = typeof fields.message === 'string' ? fields.message : '';
  if (message === '' && Array.isArray(fields.errors)) {
    message = [...new Set(fields.errors.map((inner) => errorSummary(inner).message))].join('; ');
  }
  if (message === '') message = code ?? (error instanceof Error ? error.constructor.name : JSON.stringify(error).slice(0, 200));
  const summary: ErrorSummary = { name: nameOf(error, fields.name), message };
  if (code !== undefined) summary.code = code;
  if (fields.cause !== undefined && fields.cause !== error) {
    const cause = errorSummary(fields.cause);
    if (cause.message !== message) summary.cause = cause.code ? `${cause.message} (${cause.code})` : cause.message;
  }
  return summary;
}

function nameOf(error: object, name: unknown): string {
  const constructorName = error.constructor?.name;
  // pg names its DatabaseError "error"; the class says more.
  if (typeof name === 'string' && name !== '' && name !== 'error') return name;
  return constructorName && constructorName !== 'Object' ? constructorName : 'Error';
}
