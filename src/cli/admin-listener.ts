/**
 * How `herald admin …` commands reach a running node's admin listener (server.adminPort, or
 * --admin-url): the origin and CA from the configuration, and one request with a clear failure.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { loadConfig } from '../config/load.js';
import type { Flags } from './command-line.js';
import { CommandFailure } from './failure.js';
import { UsageError } from './usage-error.js';

/** The flags of every command that asks the admin listener. */
export const LISTENER_FLAGS = {
  config: { type: 'string', value: 'FILE', help: 'the configuration file (for server.adminPort, adminHost, tls.cert); also HERALD_CONFIG' },
  'admin-url': { type: 'string', value: 'URL', help: 'the admin listener to ask, instead of the configured one' },
  json: { type: 'boolean', help: 'answer in JSON' },
} satisfies Flags;

export function adminListener(values: { config?: string | undefined; 'admin-url'?: string | undefined }): { origin: string; ca: string[] | undefined } {
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

export interface Answer {
  origin: string;
  status: number;
  body: string;
}

export function failed(answer: Answer): Error {
  return new CommandFailure(`the admin listener at ${answer.origin} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
}

export function callAdmin(method: 'GET' | 'DELETE', url: URL, ca: string[] | undefined): Promise<Answer> {
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
