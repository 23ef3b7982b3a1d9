/** accounts.cases.ts on the SQLite identity store (the embedded default). */
import { SQLITE } from './harness.js';
import { accountsCases } from './accounts.cases.js';

accountsCases(SQLITE);
