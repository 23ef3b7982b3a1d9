/**
 * `herald admin bans [list]` lists the sources the guard refuses now, from GET /admin/bans;
 * `herald admin bans lift <source>` ends one ban early, with DELETE /admin/bans/<source>. Both ask a
 * running node's admin listener: bans live in that node's memory, or in Redis for a cluster (then
 * any node answers for all).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { loadConfig } from '../config/load.js';
import type { BanView } from '../guard/admin-routes.js';
import { defineCommand, parseCommand, runGroup, stdout, type Flags, type GroupSpec, type Out } from './command-line.js';
import { CommandFailure } from './failure.js';
import { UsageError } from './usage-error.js';

const LISTENER_FLAGS = {
  config: { type: 'string', value: 'FILE', help: 'the configuration file (for server.adminPort, adminHost, tls.cert); also HERALD_CONFIG' },
  'admin-url': { type: 'string', value: 'URL', help: 'the admin listener to ask, instead of the configured one' },
  json: { type: 'boolean', help: 'answer in JSON' },
} satisfies Flags;

const LIST = defineCommand({
  name: 'admin bans list',
  summary: 'Lists the sources the guard refuses now: source, reason, until when (tab-separated, or JSON with --json).',
  flags: LISTENER_FLAGS,
  notes: ['Asks a running node over its admin listener (server.adminPort).'],
});

const LIFT = defineCommand({
  name: 'admin bans lift',
  args: '<source>',
  count: { min: 1, max: 1 },
  summary: 'Ends a ban now: <source> as `herald admin bans` lists it (4:203.0.113.7, 6:2001:db8::/64) or an address.',
  flags: LISTENER_FLAGS,
  notes: ['Exit code 1 when the source was not banned. The strikes that led to the ban start over.'],
});

const BANS: GroupSpec = {
  name: 'admin bans',
  summary: 'The sources the guard refuses now, on a running node (needs server.adminPort or --admin-url).',
  bare: { usage: '', summary: 'the same as herald admin bans list', run: list },
  subcommands: {
    list: { usage: 'list [--json]', summary: 'the sources refused now and until when', run: list },
    lift: { usage: 'lift <source> [--json]', summary: 'end a ban now', run: lift },
  },
};

export function run(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(BANS, argv, out);
}

async function list(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(LIST, argv, out);
  if (!parsed) return 0;
  const { origin, ca } = adminListener(parsed.values);
  const answer = await call('GET', new URL('/admin/bans', origin), ca);
  if (answer.status !== 200) throw failed(answer);
  const { bans } = JSON.parse(answer.body) as { bans: BanView[] };
  if (parsed.values.json) {
    out(JSON.stringify(bans, null, 2) + '\n');
  } else if (bans.length === 0) {
    out('no source is banned\n');
  } else {
    for (const ban of bans) out(`${ban.source}\t${ban.reason}\tuntil ${ban.expiresAt} (${ban.remainingSeconds} s)\n`);
  }
  return 0;
}

/**
 * Needs the admin route DELETE /admin/bans/:source (the source key URL-encoded, or an address the
 * guard maps to its source key), answering 200 {"source": key, "lifted": true|false}.
 */
async function lift(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(LIFT, argv, out);
  if (!parsed) return 0;
  const source = parsed.positionals[0] as string;
  const { origin, ca } = adminListener(parsed.values);
  const answer = await call('DELETE', new URL(`/admin/bans/${encodeURIComponent(source)}`, origin), ca);
  if (answer.status === 404 && /Route DELETE/.test(answer.body)) {
    throw new CommandFailure(`the node at ${origin} cannot lift bans (it has no DELETE /admin/bans route): update it, or wait for the ban to expire`);
  }
  if (answer.status !== 200) throw failed(answer);
  const result = JSON.parse(answer.body) as { source: string; lifted: boolean };
  if (parsed.values.json) out(JSON.stringify(result, null, 2) + '\n');
  else out(result.lifted ? `lifted the ban on ${result.source}\n` : `${result.source} was not banned\n`);
  return result.lifted ? 0 : 1;
}

function adminListener(values: { config?: string | undefined; 'admin-url'?: string | undefined }): { origin: string; ca: string[] | undefined } {
  const config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env });
  // Trust the configured certificate too, so a self-signed (--dev-tls) admin listener is reachable.
  const ca = config.tls.cert ? [...rootCertificates, readFileSync(config.tls.cert, 'utf8')] : undefined;
  const given = values['admin-url'];
  if (given !== undefined) {
    if (!/^https?:\/\/[^/]/i.test(given)) throw new UsageError('--admin-url must be an http:// or https:// URL');
    return { origin: new URL(given).origin, ca };
  }
  const port = config.server.adminPort;
  if (!port) throw new UsageError('needs the admin listener: set server.adminPort in the configuration, or pass --admin-url URL');
  const host = config.server.adminHost.includes(':') ? `[${config.server.adminHost}]` : config.server.adminHost;
  return { origin: `${config.tls.cert ? 'https' : 'http'}://${host}:${port}`, ca };
}

interface Answer {
  origin: string;
  status: number;
  body: string;
}

function failed(answer: Answer): Error {
  return new CommandFailure(`the admin listener at ${answer.origin} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
}

function call(method: 'GET' | 'DELETE', url: URL, ca: string[] | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, ...(ca ? { ca } : {}), timeout: 10_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ origin: url.origin, status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new CommandFailure(`the admin listener at ${url.origin} did not answer in time`)));
    // A plain reason ("cannot reach … (ECONNREFUSED)"): the operator mistyped a URL or the node is down.
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code ? new CommandFailure(`cannot reach the admin listener at ${url.origin} (${error.code}): is Herald running with server.adminPort set?`) : error),
    );
    req.end();
  });
}
