import { parseArgs } from 'node:util';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { rotateSecret, SECRET_PURPOSES, type SecretPurpose } from '../config/secrets.js';
import { generateVapidKeyPair } from '../crypto/vapid.js';
import { BLOCKLIST_ACTIONS, runBlocklist } from './keys-blocklist.js';
import { UsageError } from './usage-error.js';

/**
 * `herald keys` prints a fresh VAPID key pair for an application server.
 * `herald keys rotate <ring>` prepends a new key to one of Herald's own key rings.
 * `herald keys block | list-blocked | unblock` manage the sender key blocklist (keys-blocklist.ts).
 */
export async function run(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (BLOCKLIST_ACTIONS.includes(first as (typeof BLOCKLIST_ACTIONS)[number])) return runBlocklist(first as string, rest);
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, config: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [action, purpose] = positionals;
  if (action === undefined) {
    const pair = generateVapidKeyPair();
    process.stdout.write(JSON.stringify({ publicKey: pair.publicKey, privateKey: pair.privateKey, subject: 'mailto:you@example.com' }, null, 2) + '\n');
    process.stderr.write('Keep privateKey secret. Give publicKey to pushManager.subscribe({ applicationServerKey }).\n');
    return 0;
  }
  if (action === 'rotate') {
    if (!SECRET_PURPOSES.includes(purpose as SecretPurpose)) {
      throw new UsageError(`keys rotate expects one of ${SECRET_PURPOSES.join(', ')}`);
    }
    const config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env, overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {} });
    const dataDir = path.resolve(config.dataDir);
    const id = rotateSecret(dataDir, purpose as SecretPurpose);
    process.stdout.write(`${purpose}: key ${id} now seals new tokens; older keys still open existing ones. Restart Herald to use it.\n`);
    return 0;
  }
  throw new UsageError(`unknown keys action "${action}"`);
}
