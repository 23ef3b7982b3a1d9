/** client-state.cases.ts on the SQLite identity store (the embedded default). */
import { SQLITE } from '../accounts/harness.js';
import { clientStateCases } from './client-state.cases.js';

clientStateCases(SQLITE);
