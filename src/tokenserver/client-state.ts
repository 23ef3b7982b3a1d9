/**
 * The client-state rules (docs/accounts.md), as a pure function of the request and what is
 * recorded: no I/O, so the store can run it inside the transaction that applies its answer.
 */
import type { ServiceUserRecord, UserDecision } from '../accounts/store.js';

export interface StateRequest {
  generation: number;
  keysChangedAt: number;
  /** '' or 32 lowercase hex (already validated). */
  clientState: string;
}

export const REFUSALS = {
  generation: 'invalid-generation',
  keysChangedAt: 'invalid-keysChangedAt',
  clientState: 'invalid-client-state',
} as const;

export function decideUser(request: StateRequest, current: ServiceUserRecord | null, seen: ReadonlySet<string>): UserDecision {
  const refuse = (reason: string, detail: string): UserDecision => ({ kind: 'refuse', reason, detail });
  const { generation, keysChangedAt, clientState } = request;
  if (keysChangedAt > generation) return refuse(REFUSALS.keysChangedAt, 'keys_changed_at is later than generation');
  if (!current) return { kind: 'create', clientState, generation, keysChangedAt };

  if (generation < current.generation) return refuse(REFUSALS.generation, 'generation is older than the one recorded');
  if (keysChangedAt < current.keysChangedAt) return refuse(REFUSALS.keysChangedAt, 'keys_changed_at is older than the one recorded');

  const advanced = generation > current.generation || keysChangedAt > current.keysChangedAt;
  if (clientState === current.clientState) return advanced ? { kind: 'update', generation, keysChangedAt } : { kind: 'keep' };

  if (clientState === '') return refuse(REFUSALS.clientState, 'client state is required once one has been recorded');
  if (seen.has(clientState)) return refuse(REFUSALS.clientState, 'this client state was used before and cannot be used again');
  // The first state after none is a first recording, not a change: a client that never sent one
  // must not lock the account's first real key out until the next password change.
  if (current.clientState !== '' && !advanced) {
    return refuse(REFUSALS.clientState, 'a new client state needs a newer generation or keys_changed_at');
  }
  return { kind: 'replace', clientState, generation, keysChangedAt };
}
