/**
 * The accounts, client-state, fuzzing and node suites again, on the PostgreSQL identity store: each
 * world in a fresh schema, dropped after it. Skipped when PostgreSQL is unreachable, except under
 * CI (test/helpers/services.ts).
 */
import { describe } from 'node:test';
import { postgresUnavailable, postgresUrl, requireServices } from '../helpers/services.js';
import { useIdentityPostgres } from './harness.js';

const unavailable = await postgresUnavailable();
let run = false;
requireServices([unavailable], (skip) => {
  if (skip) describe('identity store on PostgreSQL', { skip }, () => {});
  else run = true;
});
if (run) {
  useIdentityPostgres(postgresUrl);
  await import('./accounts.test.js');
  await import('../tokenserver/client-state.test.js');
  await import('../tokenserver/fuzz.test.js');
  await import('../tokenserver/nodes.test.js');
}
