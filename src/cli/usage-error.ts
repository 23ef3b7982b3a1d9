/**
 * A mistake on the command line (a bad flag, a missing or extra argument, a value out of range):
 * main prints its message on one line, without a stack, and exits 2. `command` ("keys rotate") is
 * filled in by whoever dispatched to the command, so the line can point at its --help.
 */
export class UsageError extends Error {
  override name = 'UsageError';
  command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}
