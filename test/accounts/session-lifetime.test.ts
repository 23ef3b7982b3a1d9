/** session-lifetime.cases.ts on the SQLite identity store (the embedded default). */
import { SQLITE } from './harness.js';
import { sessionLifetimeCases } from './session-lifetime.cases.js';

sessionLifetimeCases(SQLITE);
