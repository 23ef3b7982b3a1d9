import path from 'node:path';
import { parseArgs } from 'node:util';
import { rotateSigningKey, signingKeysPath } from '../accounts/signing-keys.js';
import { openIdentityStore } from '../accounts/open-store.js';
import type { IdentityStore } from '../accounts/store.js';
import { loadConfig } from '../config/load.js';
import { UsageError } from './usage-error.js';

/**
 * `herald admin nodes add|down|up|list` manages the token server's nodes;
 * `herald admin accounts rotate-signing-key` rotates the assertion signing key.
 * Both act on the data folder directly; a running Herald sees the change at its next request.
 */
export const ADMIN_USAGE = `  herald admin nodes add <service> <url> [--capacity N]   add a node (or set its capacity)
  herald admin nodes down|up <service> <url>              take a node out of (or back into) assignment
  herald admin nodes list [service]
  herald admin accounts rotate-signing-key                new assertion key; old ones stay published
  (each takes --config FILE and --data-dir DIR)
  herald admin bans [--config FILE] [--admin-url URL] [--json]   sources the guard refuses now`;

export async function run(argv: string[], out: (line: string) => void = (line) => process.stdout.write(line + '\n')): Promise<number> {
  // Bans live in a running node (memory or Redis), not in the data folder: a command of its own.
  if (argv[0] === 'bans') return (await import('./admin-bans.js')).run(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, 'data-dir': { type: 'string' }, capacity: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [group, action, ...rest] = positionals;
  const config = loadConfig({
    file: values.config ?? process.env.HERALD_CONFIG,
    env: process.env,
    overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {},
  });
  const dataDir = path.resolve(config.dataDir);

  if (group === 'accounts' && action === 'rotate-signing-key') {
    const keepMs = (config.accounts.assertionLifetimeSeconds + config.accounts.clockSkewSeconds) * 1000;
    const { kid, dropped } = rotateSigningKey(signingKeysPath(dataDir), keepMs);
    out(`signing key ${kid} now signs assertions; earlier keys stay in the JWKS until their assertions expire` + (dropped.length ? ` (dropped ${dropped.join(', ')})` : ''));
    return 0;
  }
  if (group !== 'nodes') throw new UsageError(`admin expects "nodes", "accounts" or "bans"\n${ADMIN_USAGE}`);
  const store = openIdentityStore(config.accounts.database, dataDir);
  try {
    await store.migrate();
    return await nodes(store, action, rest, values.capacity, out);
  } finally {
    await store.close();
  }
}

async function nodes(store: IdentityStore, action: string | undefined, args: string[], capacityFlag: string | undefined, out: (line: string) => void): Promise<number> {
  const [service, url] = args;
  const needServiceAndUrl = () => {
    if (!service || !/^[a-z][a-z0-9-]{0,31}$/.test(service)) throw new UsageError('expected a service name: lowercase letters, digits and -');
    if (!url || !isNodeUrl(url)) throw new UsageError('expected a node URL (http, https, ws or wss)');
    return { service, url };
  };
  switch (action) {
    case 'add': {
      const target = needServiceAndUrl();
      const capacity = capacityFlag === undefined ? 100_000 : Number(capacityFlag);
      if (!Number.isSafeInteger(capacity) || capacity < 1) throw new UsageError('--capacity must be a positive integer');
      const node = await store.addNode({ ...target, capacity });
      out(`node ${node.url} serves ${node.service} with capacity ${node.capacity}`);
      return 0;
    }
    case 'down':
    case 'up': {
      const target = needServiceAndUrl();
      if (!(await store.setNodeDowned(target.service, target.url, action === 'down'))) {
        out(`no node ${target.url} for ${target.service}`);
        return 1;
      }
      out(action === 'down' ? `node ${target.url} is down: its users move at their next token request` : `node ${target.url} is up`);
      return 0;
    }
    case 'list': {
      const list = await store.listNodes(service);
      out(['service', 'url', 'capacity', 'load', 'available', 'state'].join('\t'));
      for (const node of list) {
        out([node.service, node.url, node.capacity, node.currentLoad, Math.max(0, node.capacity - node.currentLoad), node.downed ? 'down' : 'up'].join('\t'));
      }
      return 0;
    }
    default:
      throw new UsageError(`admin nodes expects add, down, up or list\n${ADMIN_USAGE}`);
  }
}

function isNodeUrl(value: string): boolean {
  try {
    return ['http:', 'https:', 'ws:', 'wss:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
