/**
 * The console API from the page: same-origin fetches, JSON in and out. The CSRF token lives in this
 * module's memory only (never in storage or a cookie) and goes in X-CSRF-Token on every unsafe
 * request; each answer that carries a new one replaces it.
 */
export interface Account {
  id: string;
  email: string;
  roles: string[];
  sessionId: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers['x-csrf-token'] = csrfToken;
  }
  const answer = await fetch(`/console/api${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(method !== 'GET' ? { body: JSON.stringify(body ?? {}) } : {}),
  });
  if (answer.status === 204) return undefined as T;
  const json = (await answer.json().catch(() => ({}))) as Record<string, unknown>;
  if (!answer.ok) throw new ApiError(answer.status, Number(json.errno ?? 0), String(json.message ?? `HTTP ${answer.status}`));
  if (typeof json.csrfToken === 'string') csrfToken = json.csrfToken;
  return json as T;
}

/** Who is signed in (null: nobody), fetching a fresh CSRF token on the way. */
export async function loadSession(): Promise<Account | null> {
  const answer = await api<{ account: Account | null }>('GET', '/session');
  return answer.account;
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (HTTP ${error.status}, errno ${error.errno})`;
  return error instanceof Error ? error.message : String(error);
}

export function when(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toLocaleString();
}
