/**
 * The accounts server and token server mounted on one fastify instance (requests by inject), over
 * a real SQLite file in a temporary data folder, with a settable clock and the log captured.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { AccountsPart } from '../../src/accounts/part.js';
import { TokenServerPart } from '../../src/tokenserver/part.js';
import type { InspectableIdentityStore } from '../../src/accounts/open-store.js';
import type { PostgresIdentityStore } from '../../src/accounts/postgres-store.js';
import { validateConfig } from '../../src/config/load.js';
import type { HeraldConfigInput } from '../../src/config/schema.js';
import { loadOrCreateSecrets } from '../../src/config/secrets.js';
import type { RingKey } from '../../src/crypto/keyring.js';
import type { RetiredUser } from '../../src/tokenserver/routes.js';

export const ORIGIN = 'http://herald.test';
const START = Date.UTC(2026, 0, 1);
export const NODE_A = 'wss://node-a.herald.test/';
export const NODE_B = 'wss://node-b.herald.test/';

/** A password that passes the policy; tests vary the suffix. */
export const GOOD_PASSWORD = 'correct horse battery staple';

/**
 * Which identity store a world runs on: SQLite in its data folder, or a fresh PostgreSQL schema,
 * dropped at close. The suites (*.cases.ts) take one and run the same cases on it.
 */
export type IdentityBackend = { kind: 'sqlite' } | { kind: 'postgres'; url: string };
export const SQLITE: IdentityBackend = { kind: 'sqlite' };

function postgresDatabase(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('schema', `herald_test_identity_${randomBytes(4).toString('hex')}`);
  parsed.searchParams.set('pool_size', '3');
  return parsed.toString();
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: LightMyRequestResponse['headers'];
}

export class World {
  logs = '';
  readonly retired: RetiredUser[] = [];
  clock = START;

  private constructor(
    readonly app: FastifyInstance,
    readonly identity: AccountsPart,
    readonly dataDir: string,
    readonly tokenSecrets: RingKey[],
    readonly backend: IdentityBackend,
  ) {}

  /** `overrides` of the accounts section; `guard` for the source resolver (trusted proxies, IPv6 prefix). */
  static async start(
    overrides: Partial<HeraldConfigInput['accounts']> = {},
    guard: Partial<HeraldConfigInput['guard']> = {},
    backend: IdentityBackend = SQLITE,
  ): Promise<World> {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'herald-accounts-'));
    const database = backend.kind === 'postgres' ? postgresDatabase(backend.url) : null;
    // `herald admin …` run by a test reads the same database from the environment.
    if (database) process.env.HERALD_ACCOUNTS_DATABASE = database;
    else delete process.env.HERALD_ACCOUNTS_DATABASE;
    const config = validateConfig({
      dataDir,
      // Cheap argon2 for tests: the cost is a parameter of the hash, not of the checks under test.
      accounts: { passwordMemoryKiB: 1024, passwordPasses: 1, ...(database ? { database } : {}), ...overrides },
      guard,
      log: { level: 'info' },
    });
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        if (world) world.logs += chunk.toString();
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
    const tokenSecrets = loadOrCreateSecrets(dataDir).secrets.tokenServer;
    let world: World | undefined;
    const now = () => (world ? world.clock : START);
    const onError = (error: unknown) => logger.error({ err: (error as Error).message }, 'identity request failed');
    const identity = new AccountsPart({ config, dataDir, origin: () => ORIGIN, now, serve: config.accounts.enabled, onError });
    const tokens = new TokenServerPart({
      config,
      accounts: identity,
      secrets: tokenSecrets,
      now,
      onUserRetired: (event) => {
        world?.retired.push(event);
      },
      onError,
    });
    await identity.start();
    const created = new World(app, identity, dataDir, tokenSecrets, backend);
    world = created;
    const http = { devices: app, endpoint: app, admin: null, public: [app] };
    await identity.register(http);
    if (config.tokenserver.enabled) await tokens.register(http);
    await app.ready();
    await identity.store.addNode({ service: 'push', url: NODE_A, capacity: 1000 });
    return created;
  }

  get store(): InspectableIdentityStore {
    return this.identity.store as InspectableIdentityStore;
  }

  async close(): Promise<void> {
    await this.app.close();
    if (this.backend.kind === 'postgres') await (this.identity.store as PostgresIdentityStore).dropSchema();
    await this.identity.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async request(method: 'GET' | 'POST' | 'DELETE', url: string, options: { body?: unknown; headers?: Record<string, string>; ip?: string } = {}): Promise<Answer> {
    const response = await this.app.inject({
      method,
      url,
      headers: options.headers,
      ...(options.body !== undefined ? { payload: options.body as object } : {}),
      ...(options.ip ? { remoteAddress: options.ip } : {}),
    });
    let body: Record<string, unknown> = {};
    try {
      body = response.body ? (JSON.parse(response.body) as Record<string, unknown>) : {};
    } catch {
      body = { raw: response.body };
    }
    return { status: response.statusCode, body, headers: response.headers };
  }

  async createAccount(email: string, password = GOOD_PASSWORD): Promise<{ uid: string; sessionToken: string; sessionId: string }> {
    const answer = await this.request('POST', '/v1/account/create', { body: { email, password } });
    if (answer.status !== 201) throw new Error(`create answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body as { uid: string; sessionToken: string; sessionId: string };
  }

  login(email: string, password: string, ip = '10.0.0.1'): Promise<Answer> {
    return this.request('POST', '/v1/account/login', { body: { email, password }, ip });
  }

  async assertion(sessionToken: string): Promise<string> {
    const answer = await this.request('POST', '/v1/assertion', { headers: { authorization: `Bearer ${sessionToken}` } });
    if (answer.status !== 200) throw new Error(`assertion answered ${answer.status}`);
    return answer.body.assertion as string;
  }

  changePassword(sessionToken: string, oldPassword: string, newPassword: string): Promise<Answer> {
    return this.request('POST', '/v1/password/change', {
      body: { oldPassword, newPassword },
      headers: { authorization: `Bearer ${sessionToken}` },
    });
  }

  /** GET /1.0/push/1.0 with the assertion and any state headers. */
  token(assertion: string, headers: Record<string, string> = {}, service = 'push'): Promise<Answer> {
    return this.request('GET', `/1.0/${service}/1.0`, { headers: { authorization: `Bearer ${assertion}`, ...headers } });
  }

  /** An assertion with chosen claims, signed by the real current key (what a compromised or buggy issuer could send). */
  async craftAssertion(claims: Record<string, unknown>, sub = '0123456789abcdef0123456789abcdef'): Promise<string> {
    const { kid, privateKey } = this.identity.signingKeys.current();
    const iat = Math.floor(this.clock / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(ORIGIN)
      .setAudience(ORIGIN)
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 600)
      .sign(privateKey);
  }
}

/** X-KeyID for a client state (32 hex) and keys_changed_at. */
export function keyId(keysChangedAt: number | string, clientState: string): string {
  return `${keysChangedAt}-${Buffer.from(clientState, 'hex').toString('base64url')}`;
}

/** keys_changed_at named in an assertion. */
export function keysChangedAtOf(assertion: string): number {
  const payload = JSON.parse(Buffer.from(assertion.split('.')[1] as string, 'base64url').toString()) as { keys_changed_at: number };
  return payload.keys_changed_at;
}
