/**
 * nginx with the Nchan module (Debian's nginx-light + libnginx-mod-nchan) as a benchmark target:
 * our own nginx (master + N workers) on a free loopback port, config in a temporary folder.
 *   POST /pub/<channel>   HTTP publish (201 when a subscriber got it, 202 when only buffered)
 *   GET  /sub/<channel>   WebSocket subscriber; a new subscriber first gets what the channel's
 *                         message buffer holds (nchan_subscriber_first_message oldest)
 * Nchan has no acknowledgement: "received" is the frame's arrival. Every fleet uses fresh channel
 * ids, so the buffer only ever replays messages sent while that fleet was away (the drain).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { ConnectOptions, Endpoint, Publisher, RunningTarget, StartOptions, Subscriber, TargetClient } from './types.js';
import { childPids, freePort, openMany, plainBodies, stopProcess, waitForPort } from './util.js';

const NGINX = '/usr/sbin/nginx';
const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
const CONNECT_TIMEOUT_MS = 30_000;
/** Per worker: nginx's own descriptors leave room below the 20,000 open files a process may hold. */
const CONNECTIONS_PER_WORKER = 19_000;

export async function startNchan(options: StartOptions = {}): Promise<RunningTarget> {
  const workers = options.processes ?? 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-nchan-'));
  mkdirSync(path.join(dir, 'temp'));
  const port = await freePort();
  const config = `
load_module ${NCHAN_MODULE};
daemon off;
master_process on;
worker_processes ${workers};
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events {
  worker_connections 20000;
}
http {
  access_log off;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  keepalive_requests 1000000;
  # Channels, their buffers and subscriber bookkeeping live in this shared memory zone.
  nchan_shared_memory_size 512M;
  server {
    # reuseport: one listening socket per worker, so connections spread over the workers.
    listen 127.0.0.1:${port} reuseport;
    location ~ ^/pub/([A-Za-z0-9_-]+)$ {
      nchan_publisher http;
      nchan_channel_id $1;
      nchan_message_buffer_length 32;
      nchan_message_timeout 1h;
    }
    location ~ ^/sub/([A-Za-z0-9_-]+)$ {
      nchan_subscriber websocket;
      nchan_channel_id $1;
      nchan_subscriber_first_message oldest;
    }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), config);
  const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  try {
    await waitForPort(port, 10_000, child, () => stderr.join(''));
  } catch (error) {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const endpoint: Endpoint = { target: 'nchan', subscribeUrls: [`ws://127.0.0.1:${port}`], publishUrls: [`http://127.0.0.1:${port}`] };
  return {
    name: 'nchan',
    endpoint,
    description: `nginx 1.22 + Nchan 1.3.6 (Debian), ${workers} worker${workers > 1 ? 's' : ''}, memory message buffer`,
    capacity: { connections: CONNECTIONS_PER_WORKER * workers, why: `${workers} worker${workers > 1 ? 's' : ''} × 20,000 open files` },
    pids: () => [child.pid as number, ...childPids(child.pid as number)],
    servicePids: () => [],
    collectGarbage: async () => {},
    // SIGQUIT: graceful stop; the master waits for its workers.
    stop: async () => {
      await stopProcess(child, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

class NchanSubscriber implements Subscriber {
  received = 0;
  constructor(
    private readonly socket: WebSocket,
    readonly resumeKey: string,
  ) {}
  get publishKey(): string {
    return this.resumeKey;
  }
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close(1000);
      setTimeout(() => this.socket.terminate(), 3000).unref();
    });
  }
}

function connectOne(url: string, channel: string, options: ConnectOptions, localAddress: string | undefined): Promise<NchanSubscriber> {
  const socket = new WebSocket(`${url}/sub/${channel}`, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
  const subscriber = new NchanSubscriber(socket, channel);
  socket.on('message', () => {
    subscriber.received++;
    options.onMessage(subscriber, performance.now());
  });
  return new Promise<NchanSubscriber>((resolve, reject) => {
    const deadline = setTimeout(() => {
      socket.terminate();
      reject(new Error(`Nchan subscriber ${channel} not open within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    socket.once('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    socket.once('open', () => {
      clearTimeout(deadline);
      resolve(subscriber);
    });
  });
}

export function nchanClient(endpoint: Endpoint): TargetClient {
  const url = endpoint.subscribeUrls[0]!;
  return {
    async connect(count, options) {
      const addresses = options.localAddresses ?? [];
      return openMany(count, options.concurrency ?? 100, (i) =>
        connectOne(url, options.resumeKeys?.[i] ?? `${options.group}-${i}`, options, addresses.length > 0 ? addresses[i % addresses.length] : undefined),
      );
    },
    publisher(inFlight) {
      const origin = new URL(endpoint.publishUrls[0]!);
      const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight, maxFreeSockets: inFlight });
      const publisher: Publisher = {
        failures: 0,
        lastFailure: '',
        publish(_index, channel, body) {
          return new Promise<void>((resolve, reject) => {
            const request = http.request(
              {
                agent,
                host: origin.hostname,
                port: Number(origin.port),
                method: 'POST',
                path: `/pub/${channel}`,
                headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body ? body.length : 0 },
              },
              (response) => {
                const status = response.statusCode ?? 0;
                // 201: delivered to a subscriber; 202: buffered, nobody listening.
                if (status !== 201 && status !== 202) {
                  publisher.failures++;
                  publisher.lastFailure = `${status}`;
                }
                response.resume();
                response.on('end', () => resolve());
              },
            );
            request.on('error', reject);
            request.end(body ?? undefined);
          });
        },
        async close() {
          agent.destroy();
        },
      };
      return publisher;
    },
    bodies: (count, payloadBytes) => plainBodies(count, payloadBytes),
  };
}
