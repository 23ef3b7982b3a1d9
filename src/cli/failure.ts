/**
 * How the `herald` command reports what stopped it: one line saying what is wrong and what to do,
 * no stack trace (unless debugging), and an exit code a supervisor can act on: 2 when retrying
 * cannot help (a usage or configuration mistake: contrib/herald.service does not restart on it),
 * 1 for anything else.
 */
import { ConfigError } from '../config/load.js';
import { SecretsMismatchError } from '../store/secrets-fingerprint.js';
import { UsageError } from './usage-error.js';

/** A command could not do its work for a reason its message explains in full (exit code 1, no hint). */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
}

export interface Failure {
  line: string;
  exitCode: 1 | 2;
}

export function describeFailure(error: unknown, debug: boolean): Failure {
  if (error instanceof UsageError) {
    const command = error.command ? `herald ${error.command}` : 'herald';
    return { line: `${command}: ${error.message} (see \`${command} --help\`)`, exitCode: 2 };
  }
  if (error instanceof ConfigError) return { line: `herald: ${error.message}`, exitCode: 2 };
  // A restart cannot fix another node's secrets.json: the operator has to copy the cluster's.
  if (error instanceof SecretsMismatchError) return { line: `herald: ${error.message}`, exitCode: 2 };
  if (error instanceof CommandFailure) return { line: `herald: ${error.message}`, exitCode: 1 };
  if (!(error instanceof Error)) return { line: `herald: ${String(error)}`, exitCode: 1 };
  if (debug) return { line: `herald: ${error.stack ?? error.message}`, exitCode: 1 };
  const listen = listenFailure(error);
  if (listen) return { line: `herald: ${listen}`, exitCode: 1 };
  const store = /store scheme|store url has no scheme/.test(error.message);
  if (store) return { line: `herald: ${error.message}; set store.url (or HERALD_STORE_URL) to sqlite:FILE or postgres://…`, exitCode: 2 };
  return { line: `herald: ${firstLine(error.message)} (--log-level debug or HERALD_LOG_LEVEL=debug shows where)`, exitCode: 1 };
}

/** A listener that could not bind: which address, why, and what to change. */
function listenFailure(error: unknown): string | null {
  if (!(error instanceof Error) || !('syscall' in error) || error.syscall !== 'listen') return null;
  const { code, address, port } = error as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = address !== undefined && port !== undefined ? `${address.includes(':') ? `[${address}]` : address}:${port}` : 'the configured address';
  switch (code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the port is in use (another Herald?); stop that process or choose another port (--port, --endpoint-port, --admin-port, or server.* in the configuration)`;
    case 'EACCES':
      return `cannot listen on ${where}: permission denied; ports below 1024 need privileges (use a higher port behind a proxy, or grant CAP_NET_BIND_SERVICE)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: no such address on this machine; check --host (server.host / server.adminHost)`;
    default:
      return `cannot listen on ${where} (${code ?? error.message})`;
  }
}

function firstLine(text: string): string {
  const at = text.indexOf('\n');
  return at < 0 ? text : text.slice(0, at);
}

/** `--log-level debug` (or trace) among the arguments, or HERALD_LOG_LEVEL=debug in the environment. */
export function debugging(argv: string[], env: NodeJS.ProcessEnv): boolean {
  const verbose = (level: string | undefined) => level === 'debug' || level === 'trace';
  if (verbose(env.HERALD_LOG_LEVEL)) return true;
  return argv.some((arg, at) => (arg === '--log-level' && verbose(argv[at + 1])) || verbose(/^--log-level=(.*)$/.exec(arg)?.[1]));
}
