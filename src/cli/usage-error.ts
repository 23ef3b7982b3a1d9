/** A mistake on the command line; main prints its message without a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}
