/** login-limits.cases.ts on the SQLite identity store (the embedded default). */
import { SQLITE } from './harness.js';
import { loginLimitCases } from './login-limits.cases.js';

loginLimitCases(SQLITE);
