/**
 * The token server's node assignment as one pure plan that every identity store runs inside its
 * transaction: given what the client-state rules decided, the account's current record and its
 * node, which node the record lives on (its own unless downed or gone: then the emptiest up node
 * with room), and the writes in order. The stores only execute the steps in their SQL.
 */
import type { NodeRecord, ServiceUserRecord, UserDecision } from './store.js';

/** A decision the stores write (a refusal writes nothing and never gets here). */
export type WriteDecision = Exclude<UserDecision, { kind: 'refuse' }>;

export type AssignmentStep =
  | { op: 'retire'; uid: number }
  | { op: 'insert'; clientState: string; generation: number; keysChangedAt: number; nodeId: number }
  | { op: 'update'; uid: number; generation: number; keysChangedAt: number }
  | { op: 'move'; uid: number; nodeId: number }
  | { op: 'load'; nodeId: number; delta: 1 | -1 };

export type AssignmentPlan =
  | { kind: 'noNode' }
  | {
      kind: 'write';
      steps: AssignmentStep[];
      /** The node the record lives on afterwards. */
      nodeId: number;
      /** The record the answer names: the one an `insert` step creates, else the current one. */
      uid: number | 'inserted';
      retired: ServiceUserRecord | null;
      moved: boolean;
    };

/** Whether the record needs a node it does not have: none yet, or its node is downed or gone. */
export function needsNode(currentNode: NodeRecord | null): boolean {
  return currentNode === null || currentNode.downed;
}

/**
 * `currentNode`: the current record's node (null when there is no record or its node is gone);
 * `freshNode`: the emptiest up node with room, looked up only when needsNode() said so.
 */
export function planAssignment(
  decision: WriteDecision,
  current: ServiceUserRecord | null,
  currentNode: NodeRecord | null,
  freshNode: NodeRecord | null,
  now: number,
): AssignmentPlan {
  let node = currentNode;
  let moved = false;
  if (needsNode(node)) {
    if (!freshNode) return { kind: 'noNode' };
    moved = node !== null;
    node = freshNode;
  }
  const nodeId = (node as NodeRecord).id;
  const moveLoad = (from: number): AssignmentStep[] => [
    { op: 'load', nodeId: from, delta: -1 },
    { op: 'load', nodeId, delta: 1 },
  ];

  if (decision.kind === 'create' || current === null) {
    if (decision.kind !== 'create') throw new Error(`unreachable: "${decision.kind}" without a current record`);
    const { clientState, generation, keysChangedAt } = decision;
    return { kind: 'write', steps: [{ op: 'insert', clientState, generation, keysChangedAt, nodeId }, { op: 'load', nodeId, delta: 1 }], nodeId, uid: 'inserted', retired: null, moved };
  }
  if (decision.kind === 'replace') {
    const { clientState, generation, keysChangedAt } = decision;
    const steps: AssignmentStep[] = [{ op: 'retire', uid: current.uid }, { op: 'insert', clientState, generation, keysChangedAt, nodeId }];
    if (moved) steps.push(...moveLoad(current.nodeId));
    return { kind: 'write', steps, nodeId, uid: 'inserted', retired: { ...current, replacedAt: now }, moved };
  }
  const steps: AssignmentStep[] = [];
  if (decision.kind === 'update') steps.push({ op: 'update', uid: current.uid, generation: decision.generation, keysChangedAt: decision.keysChangedAt });
  if (moved) steps.push({ op: 'move', uid: current.uid, nodeId }, ...moveLoad(current.nodeId));
  return { kind: 'write', steps, nodeId, uid: current.uid, retired: null, moved };
}
