/**
 * `herald pins`: the RFC 7469 pin-sha256 of the serving certificate (tls.cert) and of the backup
 * key kept in the data folder (made on first use, 0600, in no live chain); `--android FILE` and
 * `--ios FILE` write the snippets an app embeds (docs/pinning.md says how to rotate with them).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { certificatePin, pemCertificates, publicKeyPin } from '../crypto/pins.js';
import { androidNetworkSecurityConfig, iosPinnedDomainsPlist, loadOrCreateBackupKey, type PinSet } from '../devices/pinning-kit.js';
import { defineCommand, parseCommand, stdout, type Out } from './command-line.js';
import { CommandFailure } from './failure.js';
import { UsageError } from './usage-error.js';

const SPEC = defineCommand({
  name: 'pins',
  summary: 'Prints the pin-sha256 of the serving certificate and of the backup key, and writes Android/iOS pinning snippets.',
  flags: {
    config: { type: 'string', value: 'FILE', help: 'the configuration file (tls.cert, dataDir, publicOrigin); also HERALD_CONFIG' },
    'data-dir': { type: 'string', value: 'DIR', help: 'the data folder holding the backup key, default ./data' },
    cert: { type: 'string', value: 'FILE', help: 'the serving certificate (PEM, leaf first), default tls.cert' },
    domain: { type: 'string', value: 'HOST', help: 'the host the app pins, default the host of server.publicOrigin' },
    'include-subdomains': { type: 'boolean', help: 'pin every subdomain of HOST too' },
    'expires-days': { type: 'string', value: 'N', help: 'Android pin-set expiration, N days from today (default 365)' },
    android: { type: 'string', value: 'FILE', help: 'write network_security_config.xml with the pin-set' },
    ios: { type: 'string', value: 'FILE', help: 'write the NSPinnedDomains Info.plist entry' },
    json: { type: 'boolean', help: 'print {"serving":…,"backup":…} as JSON' },
  },
  notes: [
    'The backup key (pin-backup-key.pem, 0600) is made once; issue the next certificate for it:',
    '  openssl req -new -key data/pin-backup-key.pem -subj /CN=push.example.com -out next.csr',
    'Ship both pins in the app before rotating (docs/pinning.md).',
  ],
});

export async function run(argv: string[], out: Out = stdout): Promise<number> {
  const parsed = parseCommand(SPEC, argv, out);
  if (!parsed) return 0;
  const { values } = parsed;
  const config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env, overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {} });
  const certFile = values.cert ?? config.tls.cert;
  if (!certFile) throw new UsageError('needs the serving certificate: --cert FILE or tls.cert');
  const [leaf] = pemCertificates(readText(certFile));
  if (!leaf) throw new CommandFailure(`${certFile} holds no PEM certificate`);
  const backup = loadOrCreateBackupKey(path.resolve(config.dataDir));
  if (backup.created) process.stderr.write(`Made the backup key ${backup.file} (mode 0600): back it up with the data folder.\n`);
  const serving = certificatePin(leaf);
  const spare = publicKeyPin(backup.key);
  if (serving === spare) throw new CommandFailure('the serving certificate already uses the backup key: move pin-backup-key.pem aside to make a new backup');

  if (values.json) out(JSON.stringify({ serving, backup: spare, servingExpires: new Date(leaf.validTo).toISOString() }) + '\n');
  else {
    out(`pin-sha256="${serving}"   serving certificate (${leaf.subject.replace(/\n/g, ', ')}; expires ${new Date(leaf.validTo).toISOString().slice(0, 10)})\n`);
    out(`pin-sha256="${spare}"   backup key (${backup.file}; not in the live chain)\n`);
  }
  if (values.android === undefined && values.ios === undefined) return 0;

  const set: PinSet = {
    domain: values.domain ?? domainOf(config.server.publicOrigin),
    includeSubdomains: values['include-subdomains'] ?? false,
    pins: [serving, spare],
    expiration: expirationDate(values['expires-days']),
  };
  if (values.android !== undefined) writeSnippet(values.android, androidNetworkSecurityConfig(set));
  if (values.ios !== undefined) writeSnippet(values.ios, iosPinnedDomainsPlist(set));
  return 0;
}

function domainOf(origin: string | null): string {
  if (origin === null) throw new UsageError('needs the pinned host: --domain HOST or server.publicOrigin');
  return new URL(origin).hostname;
}

function expirationDate(days: string | undefined): string {
  const count = days === undefined ? 365 : Number(days);
  if (!Number.isInteger(count) || count < 1 || count > 3650) throw new UsageError('--expires-days takes a whole number of days from 1 to 3650');
  return new Date(Date.now() + count * 86_400_000).toISOString().slice(0, 10);
}

function writeSnippet(file: string, text: string): void {
  writeFileSync(file, text);
  process.stderr.write(`Wrote ${file}.\n`);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CommandFailure(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
