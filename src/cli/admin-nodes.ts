/**
 * `herald admin nodes add|down|up|list`: the token server's nodes, in the identity store of the
 * data folder (or accounts.database). A running Herald sees a change at its next token request.
 */
import path from 'node:path';
import { openIdentityStore } from '../accounts/open-store.js';
import type { IdentityStore } from '../accounts/store.js';
import { loadConfig } from '../config/load.js';
import { defineCommand, parseCommand, runGroup, stdout, type Flags, type GroupSpec, type Out } from './command-line.js';
import { UsageError } from './usage-error.js';

const STORE_FLAGS = {
  config: { type: 'string', value: 'FILE', help: 'the configuration file (for accounts.database and dataDir); also HERALD_CONFIG' },
  'data-dir': { type: 'string', value: 'DIR', help: 'the data folder, default ./data' },
} satisfies Flags;
const DEFAULT_CAPACITY = 100_000;

const ADD = defineCommand({
  name: 'admin nodes add',
  args: '<service> <url>',
  count: { min: 2, max: 2 },
  summary: 'Adds a node that serves <service> (e.g. push) at <url>, or sets the capacity of a known one.',
  flags: { ...STORE_FLAGS, capacity: { type: 'string', value: 'N', help: `how many users it takes, default ${DEFAULT_CAPACITY}` } },
  notes: ['herald admin nodes add push wss://push.example.com/'],
});
const DOWN = defineCommand({
  name: 'admin nodes down',
  args: '<service> <url>',
  count: { min: 2, max: 2 },
  summary: 'Takes a node out of assignment: its users move at their next token request.',
  flags: STORE_FLAGS,
});
const UP = defineCommand({ ...DOWN, name: 'admin nodes up', summary: 'Puts a node back into assignment.' });
const LIST = defineCommand({
  name: 'admin nodes list',
  args: '[service]',
  count: { min: 0, max: 1 },
  summary: 'Lists the nodes (of one service): url, capacity, load, room left, up or down; tab-separated.',
  flags: STORE_FLAGS,
});

const NODES: GroupSpec = {
  name: 'admin nodes',
  summary: "The token server's nodes: which Herald a user's device is sent to.",
  subcommands: {
    add: { usage: 'add <service> <url> [--capacity N]', summary: 'add a node (or set its capacity)', run: add },
    down: { usage: 'down <service> <url>', summary: 'take a node out of assignment', run: (argv, out) => setDowned(argv, out, true) },
    up: { usage: 'up <service> <url>', summary: 'put a node back into assignment', run: (argv, out) => setDowned(argv, out, false) },
    list: { usage: 'list [service]', summary: 'the nodes and their load', run: list },
  },
};

export function run(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(NODES, argv, out);
}

async function add(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(ADD, argv, out);
  if (!parsed) return 0;
  const target = serviceAndUrl(parsed.positionals);
  const flag = parsed.values.capacity;
  const capacity = flag === undefined ? DEFAULT_CAPACITY : Number(flag);
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new UsageError('--capacity must be a positive integer');
  return withStore(parsed.values, async (store) => {
    const node = await store.addNode({ ...target, capacity });
    out(`node ${node.url} serves ${node.service} with capacity ${node.capacity}\n`);
    return 0;
  });
}

async function setDowned(argv: string[], out: Out, downed: boolean): Promise<number> {
  const parsed = parseCommand(downed ? DOWN : UP, argv, out);
  if (!parsed) return 0;
  const target = serviceAndUrl(parsed.positionals);
  return withStore(parsed.values, async (store) => {
    if (!(await store.setNodeDowned(target.service, target.url, downed))) {
      out(`no node ${target.url} for ${target.service}\n`);
      return 1;
    }
    out(downed ? `node ${target.url} is down: its users move at their next token request\n` : `node ${target.url} is up\n`);
    return 0;
  });
}

async function list(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(LIST, argv, out);
  if (!parsed) return 0;
  const [service] = parsed.positionals;
  return withStore(parsed.values, async (store) => {
    const rows = [['service', 'url', 'capacity', 'load', 'available', 'state']];
    for (const node of await store.listNodes(service)) {
      rows.push([node.service, node.url, node.capacity, node.currentLoad, Math.max(0, node.capacity - node.currentLoad), node.downed ? 'down' : 'up'].map(String));
    }
    out(rows.map((row) => row.join('\t')).join('\n') + '\n');
    return 0;
  });
}

function serviceAndUrl([service, url]: string[]): { service: string; url: string } {
  if (!service || !/^[a-z][a-z0-9-]{0,31}$/.test(service)) throw new UsageError('expected a service name: lowercase letters, digits and -');
  if (!url || !isNodeUrl(url)) throw new UsageError('expected a node URL (http, https, ws or wss)');
  return { service, url };
}

function isNodeUrl(value: string): boolean {
  try {
    return ['http:', 'https:', 'ws:', 'wss:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

async function withStore(values: { config?: string | undefined; 'data-dir'?: string | undefined }, use: (store: IdentityStore) => Promise<number>): Promise<number> {
  const config = loadConfig({
    file: values.config ?? process.env.HERALD_CONFIG,
    env: process.env,
    overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {},
  });
  const store = await openIdentityStore(config.accounts.database, path.resolve(config.dataDir));
  try {
    await store.migrate();
    return await use(store);
  } finally {
    await store.close();
  }
}
