/**
 * `herald admin bans`: lists the sources the guard currently refuses, read from GET /admin/bans on
 * a running node's admin listener (bans live in that node's memory, or in Redis for a cluster).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { BanView } from '../guard/admin-routes.js';
import { UsageError } from './usage-error.js';

export async function run(argv: string[], out: (text: string) => void = (text) => process.stdout.write(text)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'admin-url': { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env });
  let url = values['admin-url'];
  if (!url) {
    const port = config.server.adminPort;
    if (!port) throw new UsageError('herald admin bans needs the admin listener: set server.adminPort (or pass --admin-url)');
    const host = config.server.adminHost.includes(':') ? `[${config.server.adminHost}]` : config.server.adminHost;
    url = `${config.tls.cert ? 'https' : 'http'}://${host}:${port}`;
  }
  // Trust the configured certificate too, so a self-signed (--dev-tls) admin listener is reachable.
  const ca = config.tls.cert ? [...rootCertificates, readFileSync(config.tls.cert, 'utf8')] : undefined;
  const { bans } = JSON.parse(await get(new URL('/admin/bans', url), ca)) as { bans: BanView[] };
  if (values.json) {
    out(JSON.stringify(bans, null, 2) + '\n');
  } else if (bans.length === 0) {
    out('no source is banned\n');
  } else {
    for (const ban of bans) out(`${ban.source}\t${ban.reason}\tuntil ${ban.expiresAt} (${ban.remainingSeconds} s)\n`);
  }
  return 0;
}

function get(url: URL, ca: string[] | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', ...(ca ? { ca } : {}), timeout: 10_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 200) reject(new Error(`${url.origin} answered ${response.statusCode}: ${body.slice(0, 200)}`));
        else resolve(body);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url.origin} did not answer in time`)));
    // A plain reason ("cannot reach … (ECONNREFUSED)") rather than a stack: the operator mistyped a URL or the node is down.
    req.on('error', (error: NodeJS.ErrnoException) => reject(new UsageError(`cannot reach the admin listener at ${url.origin} (${error.code ?? error.message})`)));
    req.end();
  });
}
