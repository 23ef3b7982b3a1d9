/** `herald admin accounts rotate-signing-key`: a new key signs identity assertions from now on. */
import path from 'node:path';
import { rotateSigningKey, signingKeysPath } from '../accounts/signing-keys.js';
import { loadConfig } from '../config/load.js';
import { defineCommand, parseCommand, runGroup, stdout, type GroupSpec, type Out } from './command-line.js';

const ROTATE = defineCommand({
  name: 'admin accounts rotate-signing-key',
  summary: 'Makes a new assertion signing key (accounts-signing-keys.json in the data folder); earlier keys stay in the JWKS until their assertions expire.',
  flags: {
    config: { type: 'string', value: 'FILE', help: 'the configuration file; also HERALD_CONFIG' },
    'data-dir': { type: 'string', value: 'DIR', help: 'the data folder, default ./data' },
  },
});

const ACCOUNTS: GroupSpec = {
  name: 'admin accounts',
  summary: "The accounts server's keys.",
  subcommands: {
    'rotate-signing-key': { usage: 'rotate-signing-key', summary: ROTATE.summary, run: rotate },
  },
};

export function run(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(ACCOUNTS, argv, out);
}

async function rotate(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(ROTATE, argv, out);
  if (!parsed) return 0;
  const { values } = parsed;
  const config = loadConfig({
    file: values.config ?? process.env.HERALD_CONFIG,
    env: process.env,
    overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {},
  });
  const keepMs = (config.accounts.assertionLifetimeSeconds + config.accounts.clockSkewSeconds) * 1000;
  const { kid, dropped } = rotateSigningKey(signingKeysPath(path.resolve(config.dataDir)), keepMs);
  out(
    `signing key ${kid} now signs assertions; earlier keys stay in the JWKS until their assertions expire` +
      (dropped.length ? ` (dropped ${dropped.join(', ')})` : '') +
      '\n',
  );
  return 0;
}
