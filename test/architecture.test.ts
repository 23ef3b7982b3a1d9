/**
 * The shape of src/ (issue 9's rules): folders import downward, no file is over 400
 * lines, no function is over 60, no exported signature says `any` or `as unknown as`. What still breaks a rule today is
 * listed below, each entry with what removes it; an entry that no longer applies fails too, so the
 * lists only shrink.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { anyInExports, folderCycles, folderGraph, longFunctions, readSourceTree } from './helpers/source-tree.js';

/** Imports that run up a folder cycle today, as `from → to` (src/-relative folders). */
const KNOWN_UPWARD_IMPORTS: ReadonlyArray<[string, string, string]> = [];

/** Files over the limit today (issue 9 items 1-3 split them). */
const KNOWN_LONG_FILES: readonly string[] = [];

/** Functions over the limit today, as longFunctions() names them without the count. */
const KNOWN_LONG_FUNCTIONS: readonly string[] = [
];

const MAX_LINES = 400;
const MAX_FUNCTION_LINES = 60;

const files = readSourceTree();
const graph = folderGraph(files);
const key = (from: string, to: string) => `${from} → ${to}`;

describe('the architecture of src/', () => {
  it('folders import downward: no folder imports a folder that imports it back', (t) => {
    for (const [from, to] of [...graph].sort()) t.diagnostic(`${from} → ${[...to].sort().join(', ') || '(nothing)'}`);
    const known = new Set(KNOWN_UPWARD_IMPORTS.map(([from, to]) => key(from, to)));
    const pruned = new Map([...graph].map(([from, to]) => [from, new Set([...to].filter((target) => !known.has(key(from, target))))]));
    const cycles = folderCycles(pruned);
    assert.deepEqual(cycles, [], `folder cycles: ${cycles.map((cycle) => cycle.join(' ⇄ ')).join('; ')}`);
  });

  it('the check would see a cycle (guard ⇄ push/endpoint, as before the shared error vocabulary)', () => {
    const before = new Map([...graph].map(([from, to]) => [from, new Set(to)]));
    before.get('guard')?.add('push/endpoint');
    assert.ok(folderCycles(before).some((cycle) => cycle.includes('guard') && cycle.includes('push/endpoint')));
  });

  it('every known upward import still closes a cycle (remove the entry once it does not)', () => {
    for (const [from, to, why] of KNOWN_UPWARD_IMPORTS) {
      assert.ok(graph.get(from)?.has(to), `${key(from, to)} is gone (${why}): remove it from KNOWN_UPWARD_IMPORTS`);
      assert.ok(reaches(graph, to, from), `${key(from, to)} no longer closes a cycle (${why}): remove it from KNOWN_UPWARD_IMPORTS`);
    }
  });

  it(`no file is over ${MAX_LINES} lines`, () => {
    const long = files.filter((file) => file.lines > MAX_LINES).map((file) => file.file);
    assert.deepEqual(
      long.filter((file) => !KNOWN_LONG_FILES.includes(file)),
      [],
      `over ${MAX_LINES} lines: ${files.filter((file) => file.lines > MAX_LINES).map((file) => `${file.file} (${file.lines})`).join(', ')}`,
    );
    const stale = KNOWN_LONG_FILES.filter((file) => !long.includes(file));
    assert.deepEqual(stale, [], 'these are no longer over the limit: remove them from KNOWN_LONG_FILES');
  });

  it(`no function is over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = longFunctions(files, MAX_FUNCTION_LINES);
    const named = long.map((entry) => entry.replace(/ \(\d+ lines\)$/, ''));
    assert.deepEqual(long.filter((_, i) => !KNOWN_LONG_FUNCTIONS.includes(named[i] as string)), [], `over ${MAX_FUNCTION_LINES} lines`);
    const stale = KNOWN_LONG_FUNCTIONS.filter((entry) => !named.includes(entry));
    assert.deepEqual(stale, [], 'these are no longer over the limit: remove them from KNOWN_LONG_FUNCTIONS');
  });

  it('the function check would see a long one', () => {
    const ast = ts.createSourceFile('x.ts', `function long() {\n${'  step();\n'.repeat(70)}}\n`, ts.ScriptTarget.Latest, true);
    assert.deepEqual(longFunctions([{ file: 'x.ts', folder: '.', lines: 72, imports: [], ast }], MAX_FUNCTION_LINES), ['x.ts: long (72 lines)']);
  });

  it('no exported signature says any or as unknown as', () => {
    assert.deepEqual(anyInExports(files), []);
  });
});

function reaches(graph: ReadonlyMap<string, ReadonlySet<string>>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const walk = (node: string): boolean => {
    if (node === to) return true;
    if (seen.has(node)) return false;
    seen.add(node);
    return [...(graph.get(node) ?? [])].some(walk);
  };
  return walk(from);
}
