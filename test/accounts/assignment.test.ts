/**
 * The node assignment plan (src/accounts/assignment.ts), the one rule both identity stores run:
 * driven with plain values. The stores' behaviour on it is in test/tokenserver/nodes.cases.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { needsNode, planAssignment } from '../../src/accounts/assignment.js';
import type { NodeRecord, ServiceUserRecord } from '../../src/accounts/store.js';

const NOW = 1_800_000_000_000;
const node = (id: number, downed = false): NodeRecord => ({ id, service: 'push', url: `wss://n${id}/`, capacity: 10, currentLoad: 1, downed });
const user: ServiceUserRecord = { uid: 7, service: 'push', accountId: 'a', generation: 1, keysChangedAt: 1, clientState: 'aa'.repeat(16), nodeId: 1, createdAt: 0, replacedAt: null };
const state = { clientState: 'bb'.repeat(16), generation: 2, keysChangedAt: 2 };

describe('node assignment plan', () => {
  it('a first request creates the record on the fresh node and counts it there', () => {
    assert.equal(needsNode(null), true);
    assert.deepEqual(planAssignment({ kind: 'create', ...state }, null, null, node(2), NOW), {
      kind: 'write',
      steps: [{ op: 'insert', ...state, nodeId: 2 }, { op: 'load', nodeId: 2, delta: 1 }],
      nodeId: 2,
      uid: 'inserted',
      retired: null,
      moved: false,
    });
  });

  it('keeping a record on its up node writes nothing', () => {
    assert.equal(needsNode(node(1)), false);
    assert.deepEqual(planAssignment({ kind: 'keep' }, user, node(1), null, NOW), { kind: 'write', steps: [], nodeId: 1, uid: 7, retired: null, moved: false });
  });

  it('a record on a downed node moves to the fresh one, and the load moves with it', () => {
    const plan = planAssignment({ kind: 'update', generation: 3, keysChangedAt: 3 }, user, node(1, true), node(2), NOW);
    assert.deepEqual(plan, {
      kind: 'write',
      steps: [
        { op: 'update', uid: 7, generation: 3, keysChangedAt: 3 },
        { op: 'move', uid: 7, nodeId: 2 },
        { op: 'load', nodeId: 1, delta: -1 },
        { op: 'load', nodeId: 2, delta: 1 },
      ],
      nodeId: 2,
      uid: 7,
      retired: null,
      moved: true,
    });
  });

  it('a client-state change retires the record and creates its successor on the same node; load unchanged', () => {
    const plan = planAssignment({ kind: 'replace', ...state }, user, node(1), null, NOW);
    assert.equal(plan.kind, 'write');
    if (plan.kind !== 'write') return;
    assert.deepEqual(plan.steps, [{ op: 'retire', uid: 7 }, { op: 'insert', ...state, nodeId: 1 }]);
    assert.deepEqual(plan.retired, { ...user, replacedAt: NOW });
  });

  it('with no up node with room, nothing is written', () => {
    assert.deepEqual(planAssignment({ kind: 'create', ...state }, null, null, null, NOW), { kind: 'noNode' });
    assert.deepEqual(planAssignment({ kind: 'keep' }, user, node(1, true), null, NOW), { kind: 'noNode' });
  });
});
