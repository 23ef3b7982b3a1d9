import { parseArgs } from 'node:util';
import { Herald, HERALD_PARTS, type HeraldPart } from '../app.js';
import { loadConfig } from '../config/load.js';
import { UsageError } from './usage-error.js';

const FLAG_TO_OPTION: Record<string, string> = {
  port: 'server.port',
  host: 'server.host',
  'endpoint-port': 'server.endpointPort',
  'admin-port': 'server.adminPort',
  'public-origin': 'server.publicOrigin',
  'data-dir': 'dataDir',
  'log-level': 'log.level',
};

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      only: { type: 'string' },
      ...Object.fromEntries(Object.keys(FLAG_TO_OPTION).map((flag) => [flag, { type: 'string' as const }])),
    },
    strict: true,
  });
  const overrides: Record<string, string> = {};
  for (const [flag, option] of Object.entries(FLAG_TO_OPTION)) {
    const value = values[flag as keyof typeof values];
    if (typeof value === 'string') overrides[option] = value;
  }
  for (const assignment of values.set ?? []) {
    const at = assignment.indexOf('=');
    if (at <= 0) throw new UsageError(`--set expects section.option=value, got "${assignment}"`);
    overrides[assignment.slice(0, at)] = assignment.slice(at + 1);
  }
  const config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env, overrides });
  const herald = new Herald({ config, ...(values.only !== undefined ? { only: parseOnly(values.only) } : {}) });
  await herald.start();

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      herald.logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await herald.stop();
  return 0;
}

/** `--only accounts,tokens`: a comma-separated list of parts (push, accounts, tokens). */
function parseOnly(value: string): HeraldPart[] {
  const parts = value.split(',').map((part) => part.trim()).filter((part) => part !== '');
  const unknown = parts.filter((part) => !(HERALD_PARTS as readonly string[]).includes(part));
  if (parts.length === 0 || unknown.length > 0) throw new UsageError(`--only expects a comma-separated list of ${HERALD_PARTS.join(', ')}`);
  return parts as HeraldPart[];
}
