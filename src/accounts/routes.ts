/**
 * The accounts server's HTTP API (docs/accounts.md). Mounted on any fastify instance by
 * `registerAccountsRoutes(app, deps)`; its errors come from its own table (errors.ts). The routes
 * are in routes-account.ts, routes-sessions.ts and routes-assertions.ts.
 */
import type { FastifyInstance } from 'fastify';
import { handleErrors } from '../http/errors.js';
import type { AccountsDeps } from './deps.js';
import { accountErrors } from './errors.js';
import { registerAccountRoutes } from './routes-account.js';
import { registerAssertionRoutes } from './routes-assertions.js';
import { registerSessionRoutes } from './routes-sessions.js';
import { registerSsoRoutes } from './routes-sso.js';
import { PasswordChecker } from './sign-in.js';

export type { AccountsDeps } from './deps.js';
export type { SessionLimits } from './sign-in.js';

export async function registerAccountsRoutes(app: FastifyInstance, deps: AccountsDeps): Promise<void> {
  const passwords = new PasswordChecker(deps.store, deps.limiter, deps.passwordCost);
  await app.register(async (scope) => {
    handleErrors(scope, accountErrors, {
      requestError: (error) =>
        error.statusCode === 413 ? accountErrors.error('bodyTooLarge') : accountErrors.error('invalidRequest', { detail: 'the body is not a JSON object' }),
      internalError: () => accountErrors.error('internal'),
      failed: (failure, _request, thrown) => {
        if (accountErrors.is(failure, 'internal')) deps.onError?.(thrown);
      },
    });
    registerAssertionRoutes(scope, deps);
    registerAccountRoutes(scope, deps, passwords);
    registerSessionRoutes(scope, deps);
    registerSsoRoutes(scope, deps, passwords);
  });
}
