/**
 * `herald admin accounts rotate-signing-key`: a new key signs identity assertions from now on.
 * `herald admin accounts operator <email> [--revoke]`: gives (or takes) the web console's operator role.
 * `herald admin accounts sso-app …`: single sign-on's relying apps (admin-sso.ts).
 */
import path from 'node:path';
import { openIdentityStore } from '../accounts/open-store.js';
import { rotateSigningKey, signingKeysPath } from '../accounts/signing-keys.js';
import { loadConfig } from '../config/load.js';
import { defineCommand, parseCommand, runGroup, stdout, type GroupSpec, type Out } from './command-line.js';
import { UsageError } from './usage-error.js';

const ROTATE = defineCommand({
  name: 'admin accounts rotate-signing-key',
  summary: 'Makes a new assertion signing key (accounts-signing-keys.json in the data folder); earlier keys stay in the JWKS until their assertions expire.',
  flags: {
    config: { type: 'string', value: 'FILE', help: 'the configuration file; also HERALD_CONFIG' },
    'data-dir': { type: 'string', value: 'DIR', help: 'the data folder, default ./data' },
  },
});

const OPERATOR = defineCommand({
  name: 'admin accounts operator',
  args: '<email>',
  count: { min: 1, max: 1 },
  summary: "Gives the account the web console's operator role (nodes, bans, counts); --revoke takes it back.",
  flags: {
    config: { type: 'string', value: 'FILE', help: 'the configuration file; also HERALD_CONFIG' },
    'data-dir': { type: 'string', value: 'DIR', help: 'the data folder, default ./data' },
    revoke: { type: 'boolean', help: 'take the role away instead' },
  },
});

const ACCOUNTS: GroupSpec = {
  name: 'admin accounts',
  summary: "The accounts server's keys and the console's operator role.",
  subcommands: {
    'rotate-signing-key': { usage: 'rotate-signing-key', summary: ROTATE.summary, run: rotate },
    operator: { usage: 'operator <email> [--revoke]', summary: OPERATOR.summary, run: operatorRole },
    'sso-app': {
      usage: 'sso-app add|rotate-key|list|remove …',
      summary: 'the relying apps of single sign-on and their sealing keys',
      run: async (argv, out) => (await import('./admin-sso.js')).run(argv, out),
    },
  },
};

async function operatorRole(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(OPERATOR, argv, out);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const email = String(positionals[0]).trim().toLowerCase();
  const config = loadConfig({
    file: values.config ?? process.env.HERALD_CONFIG,
    env: process.env,
    overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {},
  });
  const store = await openIdentityStore(config.accounts.database, path.resolve(config.dataDir));
  try {
    await store.migrate();
    const account = await store.accountByEmail(email);
    if (!account) throw new UsageError(`no account has the email ${email}`);
    if (values.revoke) {
      const held = await store.console.revokeRole(account.id, 'operator');
      out(held ? `${email} is no longer an operator\n` : `${email} was not an operator\n`);
    } else {
      const added = await store.console.grantRole(account.id, 'operator');
      out(added ? `${email} is now an operator (at their next console request)\n` : `${email} already is an operator\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

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
