/**
 * Debian's Chromium driven by playwright-core (`npx playwright install` cannot download a browser
 * here): headless, every background connection off, a fresh profile per launch.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function findChromium(): string | null {
  const fromEnv = process.env.HERALD_CHROMIUM;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  return CHROMIUM_CANDIDATES.find((candidate) => existsSync(candidate)) ?? null;
}

/** `launch` gives each `newContext()` a fresh, in-memory profile; `extraArgs` (host rules, trusted keys) go after the usual ones. */
export function launchChromium(executablePath: string, extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

export interface AttackerSite {
  origin: string;
  /** Serves `html` at `path` on this other origin. */
  page(path: string, html: string): void;
  close(): Promise<void>;
}

/** Another origin on loopback (another port): the attacker's pages. */
export async function startAttackerSite(host = '127.0.0.1'): Promise<AttackerSite> {
  const pages = new Map<string, string>();
  const server = http.createServer((request, response) => {
    const html = pages.get(new URL(request.url ?? '/', 'http://x').pathname);
    response.writeHead(html ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' }).end(html ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host === '127.0.0.1' ? '127.0.0.1' : host}:${port}`,
    page: (path, html) => pages.set(path, html),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
