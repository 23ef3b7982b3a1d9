/** A running Herald with accounts and the console, and a cookie-keeping HTTP client for its API. */
import { startHerald, type Running, type StartOptions } from '../helpers/herald.js';
import type { HeraldConfigInput } from '../../src/config/schema.js';

export const PASSWORD = 'a long and unusual passphrase';

export async function startConsoleHerald(accounts: HeraldConfigInput['accounts'] = {}, options: StartOptions = {}): Promise<Running> {
  // The cheapest argon2 cost the config allows: these tests check flows, not hashing.
  return startHerald({ accounts: { passwordMemoryKiB: 1024, passwordPasses: 1, ...accounts } }, undefined, options);
}

export async function createAccount(origin: string, email: string, password = PASSWORD): Promise<string> {
  const answer = await fetch(`${origin}/v1/account/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (answer.status !== 201) throw new Error(`account/create answered ${answer.status}: ${await answer.text()}`);
  return ((await answer.json()) as { uid: string }).uid;
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** A browser-like client: keeps the console cookies, sends Sec-Fetch-Site: same-origin and the CSRF token. */
export class ConsoleClient {
  readonly cookies = new Map<string, string>();
  csrfToken = '';
  site: string | null = 'same-origin';

  constructor(readonly origin: string) {}

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const sent: Record<string, string> = { ...headers };
    if (this.cookies.size > 0) sent.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (this.site !== null && sent['sec-fetch-site'] === undefined) sent['sec-fetch-site'] = this.site;
    if (method !== 'GET' && sent['x-csrf-token'] === undefined && this.csrfToken) sent['x-csrf-token'] = this.csrfToken;
    if (body !== undefined && sent['content-type'] === undefined) sent['content-type'] = 'application/json';
    const answer = await fetch(`${this.origin}${path}`, {
      method,
      headers: sent,
      redirect: 'manual',
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    for (const line of answer.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (/Max-Age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await answer.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { text };
    }
    return { status: answer.status, body: parsed, headers: answer.headers };
  }

  /** GET /console/api/session and keep its token. */
  async refresh(): Promise<Answer> {
    const answer = await this.request('GET', '/console/api/session');
    this.csrfToken = String(answer.body.csrfToken ?? '');
    return answer;
  }

  async signIn(email: string, password = PASSWORD): Promise<Answer> {
    await this.refresh();
    const answer = await this.request('POST', '/console/api/session', { email, password });
    if (answer.status === 200) this.csrfToken = String(answer.body.csrfToken);
    return answer;
  }
}
