/**
 * `herald keys`: with no subcommand, prints a fresh VAPID key pair for an application server;
 * `keys rotate` adds a key to one of Herald's own key rings (keys-rotate.ts); `keys block`,
 * `list-blocked` and `unblock` manage the sender key blocklist (keys-blocklist.ts).
 */
import { writeFileSync } from 'node:fs';
import { generateVapidKeyPair } from '../crypto/vapid.js';
import { CommandFailure } from './failure.js';
import { defineCommand, parseCommand, runGroup, stdout, type GroupSpec, type Out } from './command-line.js';

const NEW_PAIR = defineCommand({
  name: 'keys',
  summary: 'Prints a fresh VAPID key pair as JSON (stdout): the privateKey signs what you send, the publicKey goes to pushManager.subscribe().',
  flags: {
    out: { type: 'string', value: 'FILE', help: 'write the pair to FILE, readable by you alone (0600); refuses to overwrite' },
  },
  notes: [
    'herald keys --out vapid.json, then herald send … --vapid vapid.json',
    'herald keys > FILE writes the private key with your umask (often readable by others): prefer --out',
  ],
});

export const KEYS: GroupSpec = {
  name: 'keys',
  summary: "VAPID key pairs for application servers, Herald's own key rings, and the sender key blocklist.",
  bare: { usage: '[--out FILE]', summary: 'print a fresh VAPID key pair (JSON on stdout), or write it 0600 to FILE', run: newPair },
  subcommands: {
    rotate: {
      usage: 'rotate <endpointTokens|messageIds|tokenServer|consoleCsrf>',
      summary: 'add a key to one of Herald’s key rings (new tokens use it; older keys still open)',
      run: async (argv, out) => (await import('./keys-rotate.js')).run(argv, out),
    },
    block: {
      usage: 'block <key-or-hash> --reason TEXT',
      summary: 'refuse a sender key from now on',
      run: async (argv, out) => (await import('./keys-blocklist.js')).runBlock(argv, out),
    },
    'list-blocked': {
      usage: 'list-blocked',
      summary: 'every revoked or blocked sender key',
      run: async (argv, out) => (await import('./keys-blocklist.js')).runListBlocked(argv, out),
    },
    unblock: {
      usage: 'unblock <hash>',
      summary: 'let a blocked key send again',
      run: async (argv, out) => (await import('./keys-blocklist.js')).runUnblock(argv, out),
    },
  },
};

export function run(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(KEYS, argv, out);
}

async function newPair(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(NEW_PAIR, argv, out);
  if (!parsed) return 0;
  const pair = generateVapidKeyPair();
  const json = JSON.stringify({ publicKey: pair.publicKey, privateKey: pair.privateKey, subject: 'mailto:you@example.com' }, null, 2) + '\n';
  const file = parsed.values.out;
  if (file === undefined) out(json);
  else {
    // 'wx': an existing file may hold the key a deployment signs with; losing it is not undoable.
    try {
      writeFileSync(file, json, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CommandFailure(`${file} exists and may hold a key in use: remove it first or choose another file`);
      }
      throw error;
    }
    process.stderr.write(`Wrote ${file} (mode 0600).\n`);
  }
  process.stderr.write('Keep privateKey secret. Give publicKey to pushManager.subscribe({ applicationServerKey }).\n');
  return 0;
}
