/**
 * The device side of accounts and tokens in one call: log in (or reuse a session), get an identity
 * assertion, exchange it at the token server, and return what the push client needs to connect
 * (`apiEndpoint`) and to prove itself there (`token`, `key`).
 */
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';

export interface ServiceTokenOptions {
  /** Origin of the accounts server, e.g. https://push.example.com. */
  accountsUrl: string;
  /** Origin of the token server; defaults to accountsUrl (both run inside `herald serve`). */
  tokenServerUrl?: string;
  email?: string;
  password?: string;
  /** An existing session (64 hex) instead of email and password. */
  sessionToken?: string;
  /** Token server service name and version. */
  service?: string;
  version?: string;
  /** 32 lowercase hex naming the client's current encryption key; see clientStateFor(). */
  clientState?: string;
  fetch?: typeof fetch;
}

export interface ServiceToken {
  /** The signed token to present to the service. */
  token: string;
  /** The request-signing secret derived for this token. */
  key: string;
  uid: number;
  /** The node to connect to. */
  apiEndpoint: string;
  durationSeconds: number;
  hashedUid: string;
  nodeType: string;
  /** The session used (reuse it for the next token instead of the password). */
  sessionToken: string;
}

/** A refusal from the accounts server or token server, with its status and error name. */
export class IdentityError extends Error {
  constructor(
    readonly status: number,
    /** `errno` of the accounts server, or the token server's status name (e.g. invalid-client-state). */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'IdentityError';
  }
}

/** The client state of a key: the first 16 bytes of its SHA-256, as 32 lowercase hex. */
export function clientStateFor(keyMaterial: Uint8Array): string {
  return createHash('sha256').update(keyMaterial).digest().subarray(0, 16).toString('hex');
}

export async function getServiceToken(options: ServiceTokenOptions): Promise<ServiceToken> {
  const fetcher = options.fetch ?? fetch;
  const accounts = options.accountsUrl.replace(/\/+$/, '');
  const tokens = (options.tokenServerUrl ?? options.accountsUrl).replace(/\/+$/, '');

  let sessionToken = options.sessionToken;
  if (!sessionToken) {
    if (options.email === undefined || options.password === undefined) throw new TypeError('getServiceToken needs a sessionToken, or an email and a password');
    const login = await call(fetcher, `${accounts}/v1/account/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: options.email, password: options.password }),
    });
    sessionToken = String(login.sessionToken);
  }

  const { assertion } = (await call(fetcher, `${accounts}/v1/assertion`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sessionToken}` },
  })) as { assertion: string };

  const headers: Record<string, string> = { authorization: `Bearer ${assertion}` };
  if (options.clientState !== undefined) {
    if (!/^[0-9a-f]{32}$/.test(options.clientState)) throw new TypeError('clientState must be 32 lowercase hex characters');
    const keysChangedAt = decodeJwt(assertion).keys_changed_at;
    headers['x-keyid'] = `${String(keysChangedAt)}-${Buffer.from(options.clientState, 'hex').toString('base64url')}`;
  }
  const service = encodeURIComponent(options.service ?? 'push');
  const version = encodeURIComponent(options.version ?? '1.0');
  const answer = await call(fetcher, `${tokens}/1.0/${service}/${version}`, { headers });
  return {
    token: String(answer.id),
    key: String(answer.key),
    uid: Number(answer.uid),
    apiEndpoint: String(answer.api_endpoint),
    durationSeconds: Number(answer.duration),
    hashedUid: String(answer.hashed_uid),
    nodeType: String(answer.node_type),
    sessionToken,
  };
}

async function call(fetcher: typeof fetch, url: string, init: RequestInit): Promise<Record<string, unknown>> {
  const response = await fetcher(url, init);
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // leave body empty: the status says enough
  }
  if (!response.ok) {
    const errors = body.errors as Array<{ description?: string }> | undefined;
    const reason = typeof body.status === 'string' ? body.status : String(body.errno ?? response.status);
    const message = errors?.[0]?.description ?? (typeof body.message === 'string' ? body.message : `HTTP ${response.status}`);
    throw new IdentityError(response.status, reason, message);
  }
  return body;
}
