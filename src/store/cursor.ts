import type { DrainCursor, StoredMessage } from './types.js';

/** The drain position after a fetched page (pages come topic group first, then the rest). */
export function cursorAfter(cursor: DrainCursor | undefined, page: readonly StoredMessage[]): DrainCursor {
  let { topicSeq, seq } = cursor ?? { topicSeq: 0, seq: 0 };
  for (const message of page) {
    if (message.topic === null) seq = Math.max(seq, message.seq);
    else topicSeq = Math.max(topicSeq, message.seq);
  }
  return { topicSeq, seq };
}
