/**
 * `herald ca`: Herald's own CA for device certificates (docs/devices.md). `init` makes the root
 * and issuing keys in the data folder; `issue`, `renew`, `revoke` and `list` act on the CA and the
 * configured store (Herald running or not: a running node sees a revocation within
 * devices.revocationCacheSeconds); `crl` prints the current CRL.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, resolvePaths } from '../config/load.js';
import { CaError, DeviceCa } from '../devices/ca.js';
import { createEnrollmentCode, MAX_CODE_MINUTES } from '../devices/enrollment.js';
import { DeviceCertificates } from '../devices/registry.js';
import { exportPrivateKeyPem, newKeyPair, x509 } from '../devices/x509.js';
import { openStore } from '../store/open/open-store.js';
import type { Store } from '../store/types.js';
import { defineCommand, parseCommand, runGroup, stdout, type Flags, type GroupSpec, type Out } from './command-line.js';
import { CommandFailure } from './failure.js';
import { UsageError } from './usage-error.js';

const STORE_FLAGS = {
  config: { type: 'string', value: 'FILE', help: 'the configuration file (for dataDir and store.url); also HERALD_CONFIG' },
  'data-dir': { type: 'string', value: 'DIR', help: 'the data folder (the CA is in DIR/ca), default ./data' },
} satisfies Flags;
type StoreValues = { config?: string | undefined; 'data-dir'?: string | undefined };

const INIT = defineCommand({
  name: 'ca init',
  summary: 'Makes the CA: a root key and certificate, and an issuing key and certificate (P-256, keys 0600 in DATA/ca).',
  flags: { ...STORE_FLAGS, name: { type: 'string', value: 'NAME', help: 'the CA name in its certificates (default "Herald device CA")' } },
  notes: ['The root key (ca/root-key.pem) signs only the issuing certificate: move it offline after init.'],
});
const ISSUE = defineCommand({
  name: 'ca issue',
  args: '<device-id>',
  count: { min: 1, max: 1 },
  summary: 'Issues a device certificate (clientAuth, device id in the SAN) for a CSR, or for a new key written to --key-out.',
  flags: {
    ...STORE_FLAGS,
    app: { type: 'string', value: 'APP', help: 'the app the device belongs to (recorded with the serial)' },
    days: { type: 'string', value: 'N', help: 'lifetime in days (default 30)' },
    csr: { type: 'string', value: 'FILE', help: "the device's PKCS#10 request (its key never leaves the device)" },
    'key-out': { type: 'string', value: 'FILE', help: 'without --csr: make a key and write it here (0600)' },
    out: { type: 'string', value: 'FILE', help: 'write the certificate here (default stdout)' },
  },
});
const RENEW = defineCommand({
  name: 'ca renew',
  args: '<cert.pem>',
  count: { min: 1, max: 1 },
  summary: 'Issues a new certificate for the device a current one names (same id and app; same key unless --csr).',
  flags: {
    ...STORE_FLAGS,
    csr: { type: 'string', value: 'FILE', help: 'a CSR for a new key' },
    days: { type: 'string', value: 'N', help: 'lifetime in days (default 30)' },
    out: { type: 'string', value: 'FILE', help: 'write the certificate here (default stdout)' },
  },
});
const REVOKE = defineCommand({
  name: 'ca revoke',
  args: '<serial>',
  count: { min: 1, max: 1 },
  summary: 'Revokes a device certificate (by serial, as `ca list` prints it) and rewrites DATA/ca/crl.pem.',
  flags: { ...STORE_FLAGS, reason: { type: 'string', value: 'TEXT', help: 'why (kept with the serial)' } },
});
const LIST = defineCommand({
  name: 'ca list',
  summary: 'Lists the certificates the CA issued: serial, device, app, expiry, revocation.',
  flags: { ...STORE_FLAGS, json: { type: 'boolean', help: 'one JSON array' } },
});
const ENROLL_CODE = defineCommand({
  name: 'ca enroll-code',
  summary: 'Makes a one-time enrollment code: a device trades it once, with a CSR, for its certificate (POST /v1/devices/enroll).',
  flags: {
    ...STORE_FLAGS,
    app: { type: 'string', value: 'APP', help: 'the app the code is for (required; the device must name it)' },
    device: { type: 'string', value: 'ID', help: 'the device id its certificate will name (default: a random one)' },
    minutes: { type: 'string', value: 'N', help: 'how long the code is valid, 1 to 15 minutes (default 15)' },
  },
  notes: ['The code is printed once and stored as its SHA-256 only: hand it to the device over a channel you trust.'],
});
const CRL = defineCommand({
  name: 'ca crl',
  summary: 'Prints the CRL of the revoked certificates (and writes it to DATA/ca/crl.pem).',
  flags: { ...STORE_FLAGS, out: { type: 'string', value: 'FILE', help: 'write it here too' } },
});

export const CA: GroupSpec = {
  name: 'ca',
  summary: "Herald's own CA for device certificates (mutual TLS on a listener, docs/devices.md).",
  subcommands: {
    init: { usage: 'init [--name NAME]', summary: 'make the root and issuing keys', run: init },
    issue: { usage: 'issue <device-id> (--csr FILE | --key-out FILE)', summary: 'issue a device certificate', run: issue },
    renew: { usage: 'renew <cert.pem> [--csr FILE]', summary: 'a new certificate for the same device', run: renew },
    revoke: { usage: 'revoke <serial> [--reason TEXT]', summary: 'revoke a certificate; rewrites the CRL', run: revoke },
    list: { usage: 'list [--json]', summary: 'every certificate issued', run: list },
    crl: { usage: 'crl [--out FILE]', summary: 'print the current CRL', run: crl },
    'enroll-code': { usage: 'enroll-code --app APP [--device ID] [--minutes N]', summary: 'a one-time code for device enrollment', run: enrollCode },
  },
};

export function run(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(CA, argv, out);
}

function dataDirOf(values: StoreValues): { dataDir: string; storeUrl: string } {
  const config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env, overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {} });
  const paths = resolvePaths(config);
  return { dataDir: path.resolve(paths.dataDir), storeUrl: paths.storeUrl };
}

/** Runs `work` with the CA and the store, closing the store after; CA mistakes are one-line failures. */
async function withCertificates<T>(values: StoreValues, work: (certificates: DeviceCertificates, store: Store) => Promise<T>): Promise<T> {
  const { dataDir, storeUrl } = dataDirOf(values);
  const ca = await DeviceCa.load(dataDir).catch(toFailure);
  const store = await openStore(storeUrl);
  try {
    return await work(new DeviceCertificates(ca, store), store).catch(toFailure);
  } finally {
    await store.close();
  }
}

function toFailure(error: unknown): never {
  if (error instanceof CaError) throw new CommandFailure(error.message);
  throw error;
}

async function init(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(INIT, argv, out);
  if (!parsed) return 0;
  const { dataDir } = dataDirOf(parsed.values);
  const ca = await DeviceCa.init(dataDir, parsed.values.name !== undefined ? { name: parsed.values.name } : {}).catch(toFailure);
  out(`CA made in ${ca.files.folder}: issuing.pem signs device certificates; move root-key.pem offline.\n`);
  return 0;
}

async function issue(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(ISSUE, argv, out);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if ((values.csr === undefined) === (values['key-out'] === undefined)) throw new UsageError('needs exactly one of --csr FILE and --key-out FILE');
  const deviceId = positionals[0] as string;
  const days = daysOf(values.days);
  return withCertificates(values, async (certificates) => {
    let issued;
    if (values.csr !== undefined) issued = await certificates.issue({ deviceId, app: values.app ?? null, csrPem: readFileSync(values.csr, 'utf8'), ...days });
    else {
      const keys = await newKeyPair();
      issued = await certificates.issue({ deviceId, app: values.app ?? null, publicKey: keys.publicKey, ...days });
      writeFileSync(values['key-out'] as string, await exportPrivateKeyPem(keys.privateKey), { mode: 0o600, flag: 'wx' });
    }
    emit(out, values.out, issued.pem);
    process.stderr.write(`Issued serial ${issued.serial} to ${issued.deviceId}, valid until ${new Date(issued.notAfter).toISOString()}.\n`);
    return 0;
  });
}

async function renew(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(RENEW, argv, out);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const current = new x509.X509Certificate(readFileSync(positionals[0] as string, 'utf8'));
  return withCertificates(values, async (certificates) => {
    const key = values.csr !== undefined ? { csrPem: readFileSync(values.csr, 'utf8') } : { publicKey: await current.publicKey.export() };
    const issued = await certificates.renew({ serial: current.serialNumber, ...key, ...daysOf(values.days) });
    emit(out, values.out, issued.pem);
    process.stderr.write(`Renewed ${issued.deviceId}: serial ${issued.serial}, valid until ${new Date(issued.notAfter).toISOString()}.\n`);
    return 0;
  });
}

async function revoke(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(REVOKE, argv, out);
  if (!parsed) return 0;
  const serial = parsed.positionals[0] as string;
  return withCertificates(parsed.values, async (certificates) => {
    const newly = await certificates.revoke(serial, parsed.values.reason ?? 'revoked by the operator');
    out(newly ? `Revoked ${serial}; ${certificates.ca.files.crl} rewritten.\n` : `${serial} was revoked already.\n`);
    return 0;
  });
}

async function list(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(LIST, argv, out);
  if (!parsed) return 0;
  return withCertificates(parsed.values, async (certificates) => {
    const records = await certificates.list();
    if (parsed.values.json) out(JSON.stringify(records) + '\n');
    else if (records.length === 0) out('No certificates issued yet.\n');
    else {
      for (const record of records) {
        const state = record.revokedAt !== null ? `revoked ${new Date(record.revokedAt).toISOString()} (${record.revocationReason ?? ''})` : `until ${new Date(record.expiresAt).toISOString()}`;
        out(`${record.serial}  ${record.deviceId}  ${record.app ?? '-'}  ${state}\n`);
      }
    }
    return 0;
  });
}

async function crl(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(CRL, argv, out);
  if (!parsed) return 0;
  return withCertificates(parsed.values, async (certificates) => {
    emit(out, parsed.values.out, await certificates.writeCrl());
    return 0;
  });
}

async function enrollCode(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(ENROLL_CODE, argv, out);
  if (!parsed) return 0;
  const { values } = parsed;
  if (values.app === undefined) throw new UsageError('needs --app APP');
  const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
  if (minutes !== undefined && (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_CODE_MINUTES)) throw new UsageError(`--minutes takes 1 to ${MAX_CODE_MINUTES}`);
  return withCertificates(values, async (_certificates, store) => {
    const made = await createEnrollmentCode(store, { app: values.app as string, deviceId: values.device ?? null, ...(minutes !== undefined ? { minutes } : {}) });
    out(`${made.code}\n`);
    process.stderr.write(`One-time enrollment code for ${values.app}${values.device ? ` (device ${values.device})` : ''}, valid until ${new Date(made.expiresAt).toISOString()}; it is not shown again.\n`);
    return 0;
  });
}

function daysOf(text: string | undefined): { days?: number } {
  if (text === undefined) return {};
  const days = Number(text);
  if (!Number.isInteger(days) || days < 1) throw new UsageError('--days takes a whole number of days');
  return { days };
}

function emit(out: Out, file: string | undefined, text: string): void {
  if (file === undefined) out(text);
  else writeFileSync(file, text);
}
