/**
 * `herald keys rotate <ring>` (also `herald admin secrets rotate`): prepends a new key to one of
 * Herald's key rings in the data folder's secrets.json. New tokens are sealed with it; older keys
 * stay and still open what they sealed.
 */
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { rotateSecret, SECRET_PURPOSES, type SecretPurpose } from '../config/secrets.js';
import { defineCommand, parseCommand, stdout, type Out } from './command-line.js';
import { UsageError } from './usage-error.js';

export function rotateSpec(name: string) {
  return defineCommand({
    name,
    args: `<${SECRET_PURPOSES.join('|')}>`,
    count: { min: 1, max: 1 },
    summary: "Adds a new key to one of Herald's key rings (secrets.json in the data folder); restart Herald to seal with it.",
    flags: {
      config: { type: 'string', value: 'FILE', help: 'the configuration file (for dataDir); also HERALD_CONFIG' },
      'data-dir': { type: 'string', value: 'DIR', help: 'the data folder, default ./data' },
    },
  });
}

export async function run(argv: string[], out: Out = stdout, name = 'keys rotate'): Promise<number> {
  const parsed = parseCommand(rotateSpec(name), argv, out);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const purpose = positionals[0];
  if (!SECRET_PURPOSES.includes(purpose as SecretPurpose)) throw new UsageError(`expects one of ${SECRET_PURPOSES.join(', ')}, not "${purpose}"`);
  const config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env, overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {} });
  const id = rotateSecret(path.resolve(config.dataDir), purpose as SecretPurpose);
  out(`${purpose}: key ${id} now seals new tokens; older keys still open existing ones. Restart Herald to use it.\n` +
    'Many nodes: every node must hold it before any node seals with it (README, "Many nodes": rotating a ring key across nodes).\n');
  return 0;
}
