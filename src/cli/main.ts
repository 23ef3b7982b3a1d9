#!/usr/bin/env node
/** The `herald` command: one file per subcommand, this one only dispatches. */
import { withCommand } from './command-line.js';
import { debugging, describeFailure } from './failure.js';

const COMMANDS: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  serve: () => import('./serve.js'),
  keys: () => import('./keys.js'),
  send: () => import('./send.js'),
  listen: () => import('./listen.js'),
  admin: () => import('./admin.js'),
  pins: () => import('./pins.js'),
  ca: () => import('./ca.js'),
};

const USAGE = `herald — a self-hostable Web Push service

  herald serve [--config FILE] [--port N] [--data-dir DIR] [--set section.option=value] …
                                           run Herald
  herald keys                              make a VAPID key pair (JSON on stdout)
  herald keys rotate|block|list-blocked|unblock …
                                           Herald's key rings; the sender key blocklist
  herald listen [--server URL] [--key VAPID_PUBLIC_KEY]
                                           act as a push device: subscription, then messages
  herald send <subscription.json|endpoint> <text> [--vapid FILE]
                                           send one push message
  herald pins [--android FILE] [--ios FILE]
                                           pin-sha256 of the serving certificate and a backup key
  herald ca init|issue|renew|revoke|list|crl …
                                           Herald's own CA for device certificates
  herald admin nodes|accounts|bans|secrets …
                                           operator commands
  herald --version                         the version and the commit it was built from

\`herald <command> --help\` shows a command's flags; every option is documented in herald.sample.toml.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    const { VERSION_INFO } = await import('../ops/version.js');
    process.stdout.write(`herald ${VERSION_INFO.version} (commit ${VERSION_INFO.commit})\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (name === undefined) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(`herald: unknown command "${name}"; expected ${Object.keys(COMMANDS).join(', ')} (see \`herald --help\`)\n`);
    return 2;
  }
  const command = await load();
  return withCommand(name, () => command.run(rest));
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    const failure = describeFailure(error, debugging(argv, process.env));
    process.stderr.write(failure.line + '\n');
    // Whatever the failed command left open (a half-started server's timers or worker) must not keep
    // the process alive: the error is the end of it.
    process.exit(failure.exitCode);
  },
);
