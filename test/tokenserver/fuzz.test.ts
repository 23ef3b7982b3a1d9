/** fuzz.cases.ts on the SQLite identity store (the embedded default). */
import { SQLITE } from '../accounts/harness.js';
import { tokenFuzzCases } from './fuzz.cases.js';

tokenFuzzCases(SQLITE);
