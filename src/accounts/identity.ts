/**
 * Builds the accounts server and the token server from the config, so the composition root wires
 * both with a couple of lines: `openIdentity(...)`, then `identity.register(app)` and
 * `identity.close()` on stop.
 */
import type { FastifyInstance } from 'fastify';
import type { HeraldConfig } from '../config/schema.js';
import type { RingKey } from '../crypto/keyring.js';
import { registerTokenServerRoutes, type RetiredUser } from '../tokenserver/routes.js';
import { LoginLimiter } from './login-limiter.js';
import { PasswordPolicy } from './passwords.js';
import { registerAccountsRoutes } from './routes.js';
import { SigningKeyRing, signingKeysPath } from './signing-keys.js';
import { openIdentityStore, type InspectableIdentityStore } from './open-store.js';

export interface IdentityOptions {
  config: HeraldConfig;
  dataDir: string;
  /** The public origin; read when a request needs it (it is known only after listen). */
  origin: () => string;
  /** The token server's shared secret ring (secrets.json `tokenServer`). */
  tokenSecrets: readonly RingKey[];
  now: () => number;
  onUserRetired?: (event: RetiredUser) => void | Promise<void>;
  onError?: (error: unknown, part: 'accounts' | 'tokenserver') => void;
}

export interface Identity {
  store: InspectableIdentityStore;
  signingKeys: SigningKeyRing;
  /** Mounts whichever of the two servers the config enables. */
  register(app: FastifyInstance): Promise<void>;
  close(): Promise<void>;
}

export async function openIdentity(options: IdentityOptions): Promise<Identity> {
  const { config, dataDir, now } = options;
  const accounts = config.accounts;
  const store = openIdentityStore(accounts.database, dataDir);
  await store.migrate();
  const signingKeys = new SigningKeyRing(signingKeysPath(dataDir), (accounts.assertionLifetimeSeconds + accounts.clockSkewSeconds) * 1000, now);
  const issuer = () => accounts.issuer ?? options.origin();
  const audience = () => accounts.audience ?? options.origin();
  return {
    store,
    signingKeys,
    async register(app) {
      if (accounts.enabled) {
        await registerAccountsRoutes(app, {
          store,
          signingKeys,
          policy: new PasswordPolicy(accounts.minPasswordLength, accounts.breachedPasswordsFile),
          passwordCost: { memoryKiB: accounts.passwordMemoryKiB, passes: accounts.passwordPasses },
          limiter: new LoginLimiter({
            failuresPerAccount: accounts.loginFailuresPerAccount,
            failuresPerIp: accounts.loginFailuresPerIp,
            windowSeconds: accounts.loginFailureWindowSeconds,
          }),
          assertion: () => ({ issuer: issuer(), audience: audience(), lifetimeSeconds: accounts.assertionLifetimeSeconds }),
          now,
          onError: (error) => options.onError?.(error, 'accounts'),
        });
      }
      if (config.tokenserver.enabled) {
        await registerTokenServerRoutes(app, {
          store,
          signingKeys,
          secrets: options.tokenSecrets,
          issuer,
          audience,
          clockToleranceSeconds: accounts.clockSkewSeconds,
          tokenDurationSeconds: config.tokenserver.tokenDurationSeconds,
          nodeType: config.tokenserver.nodeType,
          now,
          ...(options.onUserRetired ? { onUserRetired: options.onUserRetired } : {}),
          onError: (error) => options.onError?.(error, 'tokenserver'),
        });
      }
    },
    close: () => store.close(),
  };
}
