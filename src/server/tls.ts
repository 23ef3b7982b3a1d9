/**
 * TLS on Herald's own listeners: the certificate and key come from files, every listener (device,
 * endpoint, admin) serves HTTPS/WSS with them, and a reload swaps the secure context in place, so
 * sockets already open keep their session and only new handshakes see the new certificate.
 */
import { readFileSync } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../config/load.js';
import type { HeraldConfig } from '../config/schema.js';

type TlsConfig = HeraldConfig['tls'];

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Mutual TLS: the CA certificates client certificates must chain to, and their CRLs. */
  clientTrust?: ClientTrust;
}

export interface ClientTrust {
  ca: string;
  crl: string[];
}

/** Reads the configured files; null when TLS is not configured. Throws ConfigError naming the file. */
export function readTlsMaterial(tls: TlsConfig): TlsMaterial | null {
  if (tls.cert === null || tls.key === null) return null;
  return { cert: readPem(tls.cert, 'tls.cert'), key: readPem(tls.key, 'tls.key') };
}

/** With TLS on, endpoints must be https: VAPID `aud` and the URLs senders use would be wrong otherwise. */
export function checkTlsOrigin(publicOrigin: string | null): void {
  if (publicOrigin !== null && !publicOrigin.startsWith('https:')) {
    throw new ConfigError('server.publicOrigin: must be https:// when tls.cert and tls.key are set');
  }
}

/** Installs the new certificate on each listener; open connections are not touched. */
export function reloadSecureContexts(servers: Iterable<TlsServer>, material: TlsMaterial): void {
  const trust = material.clientTrust ? { ca: material.clientTrust.ca, ...(material.clientTrust.crl.length ? { crl: material.clientTrust.crl } : {}) } : {};
  for (const server of servers) server.setSecureContext({ cert: material.cert, key: material.key, ...trust });
}

/** Strict-Transport-Security on every answer of a TLS listener (RFC 6797 forbids it over plain HTTP). */
export function addHsts(app: FastifyInstance, maxAgeSeconds: number): void {
  if (maxAgeSeconds <= 0) return;
  const value = `max-age=${maxAgeSeconds}`;
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('strict-transport-security', value);
    done();
  });
}

function readPem(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${option}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
