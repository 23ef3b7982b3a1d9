/**
 * `herald admin accounts sso-app add|rotate-key|list|remove`: the relying apps of single sign-on
 * (docs/sso.md). The app goes in the identity database; its sealing key in
 * `<dataDir>/sso-app-keys.json` (0600), printed once for the relying back end.
 */
import path from 'node:path';
import { openIdentityStore, type InspectableIdentityStore } from '../accounts/open-store.js';
import { addSsoKey, removeSsoKeys, ssoKeysPath } from '../accounts/sso-keys.js';
import { CLIENT_ID } from '../accounts/sso-records.js';
import { loadConfig } from '../config/load.js';
import type { HeraldConfig } from '../config/schema.js';
import { defineCommand, parseCommand, runGroup, type GroupSpec, type Out } from './command-line.js';
import { UsageError } from './usage-error.js';

const COMMON = {
  config: { type: 'string', value: 'FILE', help: 'the configuration file; also HERALD_CONFIG' },
  'data-dir': { type: 'string', value: 'DIR', help: 'the data folder, default ./data' },
} as const;

const ADD = defineCommand({
  name: 'admin accounts sso-app add',
  args: '<client_id>',
  count: { min: 1, max: 1 },
  summary: 'Registers a relying app for single sign-on and prints its first sealing key (cipherId and key).',
  flags: {
    'redirect-uri': { type: 'string', value: 'URL', help: 'the exact URL codes are sent to (https, or http on loopback and .test names)' },
    origin: { type: 'string', value: 'ORIGIN', help: "the app's origin: payloads are bound to it; it may frame the sign-in frame" },
    'backchannel-logout-uri': { type: 'string', value: 'URL', help: "where the app's back end takes signed logout tokens when a user signs out (optional)" },
    ...COMMON,
  },
});
const ROTATE = defineCommand({
  name: 'admin accounts sso-app rotate-key',
  args: '<client_id>',
  count: { min: 1, max: 1 },
  summary: 'A new sealing key for the app (printed once); add it to the relying back end before dropping the old cipherId.',
  flags: COMMON,
});
const LIST = defineCommand({ name: 'admin accounts sso-app list', summary: 'The registered relying apps.', flags: COMMON });
const REMOVE = defineCommand({
  name: 'admin accounts sso-app remove',
  args: '<client_id>',
  count: { min: 1, max: 1 },
  summary: 'Removes the app, its pending codes and its sealing keys.',
  flags: COMMON,
});

const SSO_APP: GroupSpec = {
  name: 'admin accounts sso-app',
  summary: 'Relying apps of single sign-on (docs/sso.md).',
  subcommands: {
    add: { usage: 'add <client_id> --redirect-uri URL --origin ORIGIN [--backchannel-logout-uri URL]', summary: ADD.summary, run: add },
    'rotate-key': { usage: 'rotate-key <client_id>', summary: ROTATE.summary, run: rotate },
    list: { usage: 'list', summary: LIST.summary, run: list },
    remove: { usage: 'remove <client_id>', summary: REMOVE.summary, run: remove },
  },
};

export function run(argv: string[], out: Out): Promise<number> {
  return runGroup(SSO_APP, argv, out);
}

function configOf(values: { config?: string | undefined; 'data-dir'?: string | undefined }): HeraldConfig {
  return loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env, overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {} });
}

async function withStore<T>(config: HeraldConfig, act: (store: InspectableIdentityStore) => Promise<T>): Promise<T> {
  const store = await openIdentityStore(config.accounts.database, path.resolve(config.dataDir));
  try {
    await store.migrate();
    return await act(store);
  } finally {
    await store.close();
  }
}

/** https anywhere; http only where no one else can be on the path (loopback, reserved .test / .localhost names). */
function webUrl(text: string | undefined, flag: string): URL {
  let url: URL;
  try {
    url = new URL(String(text));
  } catch {
    throw new UsageError(`--${flag} must be an absolute URL`);
  }
  const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname) || /\.(test|localhost)$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) throw new UsageError(`--${flag} must be https (http only on loopback or .test names)`);
  if (url.hash !== '' || url.username !== '' || url.password !== '') throw new UsageError(`--${flag} must have no fragment and no credentials`);
  return url;
}

function keyLine(clientId: string, key: { cipherId: string; key: Buffer }): string {
  return `${clientId}: cipherId ${key.cipherId} key ${key.key.toString('base64url')}\n  (give both to the relying back end; this key is not shown again)\n`;
}

async function add(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(ADD, argv, out);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const clientId = String(positionals[0]);
  if (!CLIENT_ID.test(clientId)) throw new UsageError('client_id must be 1-64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit');
  const redirectUri = webUrl(values['redirect-uri'], 'redirect-uri').toString();
  const origin = webUrl(values.origin, 'origin');
  if (origin.origin !== String(values.origin)) throw new UsageError(`--origin must be an origin only, e.g. ${origin.origin}`);
  const given = values['backchannel-logout-uri'];
  const backchannelLogoutUri = given === undefined ? null : webUrl(given, 'backchannel-logout-uri').toString();
  const config = configOf(values);
  const added = await withStore(config, (store) => store.sso.addApp({ clientId, redirectUri, origin: origin.origin, createdAt: Date.now(), backchannelLogoutUri }));
  if (!added) throw new UsageError(`an SSO app ${clientId} already exists (remove it first)`);
  out(keyLine(clientId, addSsoKey(ssoKeysPath(path.resolve(config.dataDir)), clientId)));
  return 0;
}

async function rotate(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(ROTATE, argv, out);
  if (!parsed) return 0;
  const clientId = String(parsed.positionals[0]);
  const config = configOf(parsed.values);
  if (!(await withStore(config, (store) => store.sso.appById(clientId)))) throw new UsageError(`no SSO app ${clientId}`);
  out(keyLine(clientId, addSsoKey(ssoKeysPath(path.resolve(config.dataDir)), clientId)));
  return 0;
}

async function list(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(LIST, argv, out);
  if (!parsed) return 0;
  const apps = await withStore(configOf(parsed.values), (store) => store.sso.listApps());
  out(apps.length === 0 ? 'no SSO apps\n' : apps.map((app) => `${app.clientId}\t${app.origin}\t${app.redirectUri}${app.backchannelLogoutUri ? `\t${app.backchannelLogoutUri}` : ''}\n`).join(''));
  return 0;
}

async function remove(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(REMOVE, argv, out);
  if (!parsed) return 0;
  const clientId = String(parsed.positionals[0]);
  const config = configOf(parsed.values);
  if (!(await withStore(config, (store) => store.sso.removeApp(clientId)))) throw new UsageError(`no SSO app ${clientId}`);
  removeSsoKeys(ssoKeysPath(path.resolve(config.dataDir)), clientId);
  out(`${clientId} removed; its codes and keys are gone\n`);
  return 0;
}
