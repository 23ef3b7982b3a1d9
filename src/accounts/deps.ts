/** What the accounts routes are given (built by part.ts from config). */
import type { WindowCounter } from '../guard/limiters.js';
import type { SourceResolver } from '../guard/source.js';
import type { AssertionSettings } from './assertions.js';
import type { LoginLimiter } from './login-limiter.js';
import type { PasswordCost, PasswordPolicy } from './passwords.js';
import type { SessionLimits } from './sign-in.js';
import type { SigningKeyRing } from './signing-keys.js';
import type { SsoKeyFile } from './sso-keys.js';
import type { IdentityStore } from './store.js';

export interface AccountsDeps {
  store: IdentityStore;
  signingKeys: SigningKeyRing;
  /** Single sign-on: each relying app's sealing key (docs/sso.md). */
  ssoKeys: SsoKeyFile;
  policy: PasswordPolicy;
  passwordCost: PasswordCost;
  limiter: LoginLimiter;
  /** Sign-ups per source (each costs an argon2 hash); sources the guard exempts are not counted. */
  signups: WindowCounter;
  /** Who a request comes from: the guard's resolver (trusted proxies, IPv6 by prefix). */
  sources: SourceResolver;
  sessions: SessionLimits;
  /** Read per request: the public origin they default to is known only once the server listens. */
  assertion: () => AssertionSettings;
  now: () => number;
  /** Server errors (5xx) only; never called with request data. */
  onError?: (error: unknown) => void;
}
