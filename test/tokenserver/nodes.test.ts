/** nodes.cases.ts on the SQLite identity store (the embedded default). */
import { SQLITE } from '../accounts/harness.js';
import { nodeCases } from './nodes.cases.js';

nodeCases(SQLITE);
