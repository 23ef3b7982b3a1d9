import { parseArgs } from 'node:util';
import { Herald, HERALD_PARTS, type HeraldPart } from '../app.js';
import { loadConfig, resolvePaths } from '../config/load.js';
import { ensureDevCertificate } from '../server/dev-tls.js';
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
      'dev-tls': { type: 'boolean' },
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
  let config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env, overrides });
  let devCertificate: string | null = null;
  if (values['dev-tls']) {
    const made = await ensureDevCertificate(resolvePaths(config).dataDir);
    config = { ...config, tls: { ...config.tls, cert: made.certFile, key: made.keyFile } };
    devCertificate = made.certFile;
  }
  const herald = new Herald({ config, ...(values.only !== undefined ? { only: parseOnly(values.only) } : {}) });
  await herald.start();
  if (devCertificate) {
    herald.logger.warn(
      { certificate: devCertificate },
      'DEVELOPMENT TLS: serving a self-signed certificate for localhost; no browser or sender trusts it unless told to. Never use --dev-tls in production.',
    );
  }
  // SIGHUP reloads the certificate and key files without dropping connected sockets.
  const onHangup = () => {
    try {
      herald.reloadTls();
    } catch (error) {
      herald.logger.error({ err: (error as Error).message }, 'TLS reload failed; the previous certificate stays in use');
    }
  };
  if (config.tls.cert) process.on('SIGHUP', onHangup);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      herald.logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  process.off('SIGHUP', onHangup);
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
