/** Single sign-on (docs/sso.md) on the SQLite identity store; postgres.test.ts runs the same cases there. */
import { SQLITE } from './harness.js';
import { ssoFlowCases } from './sso-flow.cases.js';
import { ssoKitCases } from './sso-kit.cases.js';

ssoFlowCases(SQLITE);
ssoKitCases(SQLITE);
