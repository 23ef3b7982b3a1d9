/**
 * The identity store suites (accounts, login limits, session lifetime, client state, token fuzzing,
 * nodes, single sign-on) on the PostgreSQL identity store: the same cases as on SQLite, each world in a fresh
 * schema dropped after it. Under CI a PostgreSQL that cannot be reached fails (test/helpers/services.ts).
 */
import { describe } from 'node:test';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';
import { clientStateCases } from '../tokenserver/client-state.cases.js';
import { tokenFuzzCases } from '../tokenserver/fuzz.cases.js';
import { nodeCases } from '../tokenserver/nodes.cases.js';
import { accountsCases } from './accounts.cases.js';
import type { IdentityBackend } from './harness.js';
import { loginLimitCases } from './login-limits.cases.js';
import { sessionLifetimeCases } from './session-lifetime.cases.js';
import { ssoFlowCases } from './sso-flow.cases.js';
import { ssoKitCases } from './sso-kit.cases.js';

requireServices([await postgresUnavailable()], (skip) => {
  if (skip) {
    describe('identity store on PostgreSQL', { skip }, () => {});
    return;
  }
  const postgres: IdentityBackend = { kind: 'postgres', url: postgresUrl };
  for (const cases of [accountsCases, loginLimitCases, sessionLifetimeCases, clientStateCases, tokenFuzzCases, nodeCases, ssoFlowCases, ssoKitCases]) cases(postgres);
});
