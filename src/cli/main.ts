#!/usr/bin/env node
/** The `herald` command: one file per subcommand, this one only dispatches. */
import { ConfigError } from '../config/load.js';

const COMMANDS: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  serve: () => import('./serve.js'),
  keys: () => import('./keys.js'),
  send: () => import('./send.js'),
  listen: () => import('./listen.js'),
  admin: () => import('./admin.js'),
};

const USAGE = `herald — a self-hostable Web Push service

  herald serve [--config FILE] [--port N] [--host H] [--data-dir DIR] [--public-origin URL]
               [--endpoint-port N] [--admin-port N] [--log-level L] [--set section.option=value]
               [--only push,accounts,tokens] [--dev-tls]
  herald keys                         make a VAPID key pair (JSON on stdout)
  herald keys rotate <endpointTokens|messageIds|tokenServer> [--data-dir DIR]
  herald keys block <key-or-hash> --reason TEXT | keys list-blocked | keys unblock <hash>
  herald listen [--server ws://…] [--state FILE] [--key VAPID_PUBLIC_KEY]
  herald send <subscription.json|endpoint> <text> [--vapid FILE] [--ttl N] [--topic T] [--urgency U]
  herald admin nodes add|down|up|list …   token-server nodes; herald admin accounts rotate-signing-key
  herald admin bans [--admin-url URL] [--json]   sources the guard refuses now (needs server.adminPort)

Every option is documented in herald.sample.toml.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`herald: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  const command = await load();
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`herald: ${error.message}\n`);
    } else if (error instanceof Error && error.name === 'UsageError') {
      process.stderr.write(`herald: ${error.message}\n`);
    } else {
      process.stderr.write(`herald: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    process.exitCode = 1;
  },
);
