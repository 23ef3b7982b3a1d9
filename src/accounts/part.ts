/**
 * The accounts part (docs/accounts.md): the identity store and the assertion signing keys, which
 * the token server shares, and the accounts server's routes when accounts.enabled is set.
 */
import type { HeraldConfig } from '../config/schema.js';
import type { HttpListeners, Part } from '../server/part.js';
import { WindowCounter } from '../guard/limiters.js';
import { SourceResolver } from '../guard/source.js';
import { LoginLimiter } from './login-limiter.js';
import { openIdentityStore, type InspectableIdentityStore } from './open-store.js';
import { PasswordPolicy, type PasswordCost } from './passwords.js';
import { registerAccountsRoutes } from './routes.js';
import { SigningKeyRing, signingKeysPath } from './signing-keys.js';
import { SsoKeyFile, ssoKeysPath } from './sso-keys.js';

export interface AccountsPartOptions {
  config: HeraldConfig;
  dataDir: string;
  /** The public origin issuer and audience default to; read per request (known once bound). */
  origin: () => string;
  now: () => number;
  /** Serve the accounts routes (false: only the store and keys, for the token server). */
  serve: boolean;
  onError?: (error: unknown) => void;
}

export class AccountsPart implements Part {
  readonly name = 'accounts';
  /** The login budgets every door shares (the accounts API and the web console). */
  readonly loginLimiter: LoginLimiter;
  /** The guard's resolver, so the limits count the client behind a trusted proxy, not the proxy. */
  readonly sources: SourceResolver;
  readonly passwordCost: PasswordCost;
  private opened: { store: InspectableIdentityStore; signingKeys: SigningKeyRing } | undefined;

  constructor(private readonly options: AccountsPartOptions) {
    const { accounts, guard } = options.config;
    this.loginLimiter = new LoginLimiter(
      {
        failuresPerAccount: accounts.loginFailuresPerAccount,
        failuresPerIp: accounts.loginFailuresPerIp,
        windowSeconds: accounts.loginFailureWindowSeconds,
        failuresPerAccountAllSources: accounts.loginFailuresPerAccountAllSources,
      },
      options.now,
    );
    this.sources = new SourceResolver(guard);
    this.passwordCost = { memoryKiB: accounts.passwordMemoryKiB, passes: accounts.passwordPasses };
  }

  get store(): InspectableIdentityStore {
    return this.require().store;
  }

  get signingKeys(): SigningKeyRing {
    return this.require().signingKeys;
  }

  /** Who assertions name as their issuer and audience (accounts.issuer / audience, else the origin). */
  readonly issuer = (): string => this.options.config.accounts.issuer ?? this.options.origin();
  readonly audience = (): string => this.options.config.accounts.audience ?? this.options.origin();

  async start(): Promise<void> {
    const { config, dataDir, now } = this.options;
    const accounts = config.accounts;
    const store = await openIdentityStore(accounts.database, dataDir);
    await store.migrate();
    const lifetimeMs = (accounts.assertionLifetimeSeconds + accounts.clockSkewSeconds) * 1000;
    this.opened = { store, signingKeys: new SigningKeyRing(signingKeysPath(dataDir), lifetimeMs, now) };
  }

  async register(http: HttpListeners): Promise<void> {
    if (!this.options.serve) return;
    const { accounts } = this.options.config;
    const now = this.options.now;
    await registerAccountsRoutes(http.devices, {
      store: this.store,
      signingKeys: this.signingKeys,
      ssoKeys: new SsoKeyFile(ssoKeysPath(this.options.dataDir)),
      policy: new PasswordPolicy(accounts.minPasswordLength, accounts.breachedPasswordsFile),
      passwordCost: this.passwordCost,
      limiter: this.loginLimiter,
      signups: new WindowCounter(accounts.signupsPerSource, accounts.signupWindowSeconds * 1000, now),
      sources: this.sources,
      sessions: {
        idleMs: accounts.sessionIdleSeconds * 1000,
        lifetimeMs: accounts.sessionLifetimeSeconds * 1000,
        maxPerAccount: accounts.maxSessionsPerAccount,
      },
      assertion: () => ({ issuer: this.issuer(), audience: this.audience(), lifetimeSeconds: accounts.assertionLifetimeSeconds }),
      now,
      ...(this.options.onError ? { onError: this.options.onError } : {}),
    });
  }

  async stop(): Promise<void> {
    await this.opened?.store.close();
  }

  private require(): NonNullable<AccountsPart['opened']> {
    if (!this.opened) throw new Error('accounts is not started');
    return this.opened;
  }
}
