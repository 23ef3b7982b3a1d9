/**
 * The token server part (docs/accounts.md): `GET /1.0/:service/:version` on the device listener,
 * verifying assertions against the accounts part's signing keys and sharing its store.
 */
import type { AccountsPart } from '../accounts/part.js';
import type { HeraldConfig } from '../config/schema.js';
import type { RingKey } from '../crypto/keyring.js';
import type { Guard } from '../guard/guard.js';
import { requestGate } from '../guard/request-gate.js';
import type { HttpListeners, Part } from '../server/part.js';
import { registerTokenServerRoutes, type RetiredUser } from './routes.js';

export interface TokenServerPartOptions {
  config: HeraldConfig;
  accounts: AccountsPart;
  /** The shared secret ring services verify tokens with (secrets.json `tokenServer`). */
  secrets: readonly RingKey[];
  now: () => number;
  onUserRetired?: (event: RetiredUser) => void | Promise<void>;
  /** Bans and `guard.tokenRequestsPerSource`; absent: none (tests of the exchange alone). */
  guard?: Guard;
  onError?: (error: unknown) => void;
}

export class TokenServerPart implements Part {
  readonly name = 'tokenserver';

  constructor(private readonly options: TokenServerPartOptions) {}

  async register(http: HttpListeners): Promise<void> {
    const { config, accounts, guard, onUserRetired, onError } = this.options;
    await registerTokenServerRoutes(http.devices, {
      store: accounts.store,
      signingKeys: accounts.signingKeys,
      secrets: this.options.secrets,
      issuer: accounts.issuer,
      audience: accounts.audience,
      clockToleranceSeconds: config.accounts.clockSkewSeconds,
      tokenDurationSeconds: config.tokenserver.tokenDurationSeconds,
      nodeType: config.tokenserver.nodeType,
      now: this.options.now,
      ...(onUserRetired ? { onUserRetired } : {}),
      ...(guard ? { gate: requestGate(guard, 'tokens') } : {}),
      ...(onError ? { onError } : {}),
    });
  }
}
