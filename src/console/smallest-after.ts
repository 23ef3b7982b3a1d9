/**
 * The `count` rows with the smallest keys above `after`, in key order, from rows in any order: one
 * pass that keeps a sorted window of at most `count` rows (binary search, then an insert into that
 * small array). A page of 100 from 100,000 bans costs one look at each ban and a few hundred
 * comparisons per kept row, not a sort of the whole list for every page.
 */
export function smallestAfter<T>(rows: Iterable<T>, keyOf: (row: T) => string, after: string | null, count: number): T[] {
  const kept: Array<{ row: T; key: string }> = [];
  for (const row of rows) {
    const key = keyOf(row);
    if (after !== null && key <= after) continue;
    const last = kept.at(-1);
    if (kept.length === count && last !== undefined && key >= last.key) continue;
    kept.splice(insertionPoint(kept, key), 0, { row, key });
    if (kept.length > count) kept.pop();
  }
  return kept.map((each) => each.row);
}

function insertionPoint(kept: ReadonlyArray<{ key: string }>, key: string): number {
  let low = 0;
  let high = kept.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((kept[middle] as { key: string }).key < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
