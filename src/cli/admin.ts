/**
 * `herald admin`: operator commands. `nodes` and `accounts` act on the data folder directly (a
 * running Herald sees the change at its next request); `bans` asks a running node over its admin
 * listener (bans live in memory, or in Redis for a cluster), and so do `devices stats` and
 * `messages stats`; `secrets rotate` is `keys rotate`.
 */
import { runGroup, stdout, type GroupSpec, type Out } from './command-line.js';

export const ADMIN: GroupSpec = {
  name: 'admin',
  summary: 'Operator commands: token-server nodes, the assertion signing key, guard bans, device and message counts, key rings.',
  subcommands: {
    nodes: {
      usage: 'nodes add|down|up|list …',
      summary: "the token server's nodes (which Herald a user's device is sent to)",
      run: async (argv, out) => (await import('./admin-nodes.js')).run(argv, out),
    },
    accounts: {
      usage: 'accounts rotate-signing-key|operator <email>|sso-app …',
      summary: "a new assertion signing key; the web console's operator role; single sign-on's relying apps",
      run: async (argv, out) => (await import('./admin-accounts.js')).run(argv, out),
    },
    bans: {
      usage: 'bans [list|lift <source>] [--json]',
      summary: 'the sources the guard refuses now, from a running node (needs server.adminPort)',
      run: async (argv, out) => (await import('./admin-bans.js')).run(argv, out),
    },
    devices: {
      usage: 'devices stats [--json]',
      summary: 'device, channel and backlog counts from a running node (needs server.adminPort)',
      run: async (argv, out) => (await import('./admin-stats.js')).runDevices(argv, out),
    },
    messages: {
      usage: 'messages stats [--json]',
      summary: 'stored message counts from a running node (needs server.adminPort)',
      run: async (argv, out) => (await import('./admin-stats.js')).runMessages(argv, out),
    },
    secrets: {
      usage: 'secrets rotate <ring>',
      summary: 'the same as herald keys rotate',
      run: async (argv, out) => (await import('./admin-secrets.js')).run(argv, out),
    },
  },
};

/** `line` receives each line of the answer (without its newline); by default stdout. */
export function run(argv: string[], line?: (line: string) => void): Promise<number> {
  return runGroup(ADMIN, argv, line ? byLine(line) : stdout);
}

function byLine(line: (line: string) => void): Out {
  return (text) => {
    for (const each of text.replace(/\n$/, '').split('\n')) line(each);
  };
}
