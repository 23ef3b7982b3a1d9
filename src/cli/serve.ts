import { Herald, HERALD_PARTS, type HeraldPart } from '../app.js';
import { loadConfig, resolvePaths } from '../config/load.js';
import { defineCommand, parseCommand, stdout, type Out } from './command-line.js';
import { UsageError } from './usage-error.js';

/** The flags that stand for one configuration option each (herald.sample.toml documents them). */
const FLAG_TO_OPTION: Record<string, string> = {
  port: 'server.port',
  host: 'server.host',
  'endpoint-port': 'server.endpointPort',
  'admin-port': 'server.adminPort',
  'public-origin': 'server.publicOrigin',
  'data-dir': 'dataDir',
  'log-level': 'log.level',
};

export const SERVE = defineCommand({
  name: 'serve',
  summary: 'Runs Herald: the device WebSocket, the push endpoint, accounts and tokens, as configured.',
  flags: {
    config: { type: 'string', value: 'FILE', help: 'a TOML file (herald.sample.toml lists every option); also HERALD_CONFIG' },
    port: { type: 'string', value: 'N', help: 'server.port: the device WebSocket (and push endpoint) port, default 8080; 0 picks one' },
    host: { type: 'string', value: 'ADDRESS', help: 'server.host: the address to bind, default 127.0.0.1' },
    'endpoint-port': { type: 'string', value: 'N', help: 'server.endpointPort: a separate port for the push endpoint' },
    'admin-port': { type: 'string', value: 'N', help: 'server.adminPort: a separate listener for /metrics and /admin' },
    'public-origin': { type: 'string', value: 'URL', help: 'server.publicOrigin: the origin push endpoint URLs carry' },
    'data-dir': { type: 'string', value: 'DIR', help: 'dataDir: database and secrets, default ./data' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'log.level: fatal, error, warn, info, debug, trace (debug also prints stacks)' },
    set: { type: 'string', multiple: true, value: 'section.option=value', help: 'any other option' },
    only: { type: 'string', value: 'PARTS', help: `run only some parts: a comma-separated list of ${HERALD_PARTS.join(', ')}` },
    'dev-tls': { type: 'boolean', help: 'serve a self-signed certificate for localhost (development only)' },
  },
  notes: ['Later wins: defaults < --config FILE < HERALD_* environment < flags. SIGHUP reloads tls.cert and tls.key.'],
});

export async function run(argv: string[], out: Out = stdout): Promise<number> {
  const parsed = parseCommand(SERVE, argv, out);
  if (!parsed) return 0;
  const { values } = parsed;
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
    // Loaded only here: the certificate library and its ASN.1 stack are a third of a cold start.
    const { ensureDevCertificate } = await import('../server/dev-tls.js');
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
  // SIGHUP (`systemctl reload herald`) reloads the certificate and key files without dropping
  // connected sockets. Handled even without TLS: the default action would end the process.
  const onHangup = () => {
    if (!config.tls.cert) {
      herald.logger.info('SIGHUP: no TLS certificate is configured, nothing to reload');
      return;
    }
    try {
      herald.reloadTls();
    } catch (error) {
      herald.logger.error({ err: (error as Error).message }, 'TLS reload failed; the previous certificate stays in use');
    }
  };
  process.on('SIGHUP', onHangup);

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
