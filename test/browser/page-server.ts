/**
 * Serves test/browser/page/ on 127.0.0.1 (a secure context, so service workers and push work over
 * plain http) and collects what the service worker reports on POST /pushed.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pageDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');

const files: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/sw.js': { file: 'sw.js', type: 'text/javascript; charset=utf-8' },
};

export interface PushReport {
  text: string | null;
  at: number;
  subscriptionChange?: boolean;
}

export interface PageServer {
  origin: string;
  reports: PushReport[];
  /** Resolves with the first report (already received or next) that matches. */
  waitForReport(match: (report: PushReport) => boolean, timeoutMs: number): Promise<PushReport>;
  close(): Promise<void>;
}

export async function startPageServer(): Promise<PageServer> {
  const reports: PushReport[] = [];
  const waiters = new Set<() => void>();

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (request.method === 'POST' && url.pathname === '/pushed') {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        try {
          reports.push(JSON.parse(Buffer.concat(chunks).toString()) as PushReport);
        } catch {
          reports.push({ text: `unreadable report: ${Buffer.concat(chunks).toString()}`, at: Date.now() });
        }
        for (const wake of waiters) wake();
        response.writeHead(204).end();
      });
      return;
    }
    const entry = request.method === 'GET' ? files[url.pathname] : undefined;
    if (!entry) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-store' });
    response.end(readFileSync(path.join(pageDir, entry.file)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    origin: `http://127.0.0.1:${port}`,
    reports,
    async waitForReport(match, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = reports.find(match);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching push report within ${timeoutMs} ms; got ${JSON.stringify(reports)}`);
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
