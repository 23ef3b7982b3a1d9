/**
 * The comparison table: one row per figure, one column per target, and for each Herald target its
 * figure as a ratio to the best peer's (Mosquitto, Nchan) from the same run.
 */
import type { DrainResult, E2eResult, IdleResult, ScaleResult } from './phases.js';
import { HERALD_TARGETS, type TargetName } from './types.js';

export interface TargetResults {
  description?: string;
  e2e?: E2eResult;
  /** herald-sqlite only: the same e2e phase with the guard (rate limits, bans, caps) off, for its cost. */
  e2eGuardOff?: E2eResult;
  drain?: DrainResult;
  idle?: IdleResult;
  scale?: ScaleResult;
  /** Phase → error message, for a phase that failed (the others still ran). */
  errors: Record<string, string>;
}

export interface Row {
  figure: string;
  unit: string;
  /** Which way is better; null for rows that only explain others (CPU shares). */
  better: 'higher' | 'lower' | null;
  values: Partial<Record<TargetName, number>>;
  /** Herald target → its value ÷ the best peer value. */
  ratios: Partial<Record<TargetName, number>>;
  bestPeer?: TargetName;
}

const PEERS: TargetName[] = ['mosquitto', 'nchan'];

export function buildRows(results: Partial<Record<TargetName, TargetResults>>, targets: TargetName[], scaleSteps: number[]): Row[] {
  const rows: Row[] = [];
  const add = (figure: string, unit: string, better: Row['better'], value: (r: TargetResults) => number | undefined) => {
    const values: Row['values'] = {};
    for (const name of targets) {
      const result = results[name];
      const v = result ? value(result) : undefined;
      if (v !== undefined && Number.isFinite(v)) values[name] = v;
    }
    if (Object.keys(values).length === 0) return;
    const row: Row = { figure, unit, better, values, ratios: {} };
    const peerValues = PEERS.filter((p) => values[p] !== undefined).map((p) => [p, values[p]!] as const);
    if (better && peerValues.length > 0) {
      const [bestPeer, best] = peerValues.reduce((a, b) => ((better === 'higher' ? b[1] > a[1] : b[1] < a[1]) ? b : a));
      row.bestPeer = bestPeer;
      for (const herald of HERALD_TARGETS) if (values[herald] !== undefined && best !== 0) row.ratios[herald] = values[herald]! / best;
    }
    rows.push(row);
  };
  add('e2e messages/s (1,000 subscribers)', 'msg/s', 'higher', (r) => r.e2e?.messagesPerSecond);
  add('server CPU per message (e2e)', 'µs', 'lower', (r) => r.e2e?.cpuMicrosPerMessage);
  add('  of it in the target\'s own processes', 'µs', null, (r) => r.e2e?.ownCpuMicrosPerMessage);
  add('server CPU during e2e', '% core', null, (r) => (r.e2e ? r.e2e.serverCpuShare * 100 : undefined));
  add('load generator CPU during e2e', '% core', null, (r) => (r.e2e ? r.e2e.generatorCpuShare * 100 : undefined));
  add('other processes during e2e', '% core', null, (r) => (r.e2e ? r.e2e.otherCpuShare * 100 : undefined));
  add('latency test rate (50% of own peak)', 'msg/s', null, (r) => r.e2e?.latency.ratePerSecond);
  add('  achieved (kept pace: ≥ 95 %)', 'msg/s', null, (r) => r.e2e?.latency.achievedPerSecond);
  add('latency p50', 'ms', 'lower', (r) => r.e2e?.latency.p50);
  add('latency p99', 'ms', 'lower', (r) => r.e2e?.latency.p99);
  add('event-loop delay p99, e2e runs (Herald)', 'ms', null, (r) => r.e2e?.eventLoopP99Ms);
  add('event-loop delay p99, latency test (Herald)', 'ms', null, (r) => r.e2e?.latency.eventLoopP99Ms);
  add('drain 1,000 × 20 stored', 's', 'lower', (r) => r.drain?.drainSeconds);
  add('server CPU per drained message', 'µs', 'lower', (r) => r.drain?.drainCpuMicrosPerMessage);
  add('store rate, subscribers away', 'msg/s', 'higher', (r) => r.drain?.storePerSecond);
  add('RSS per idle connection (10k)', 'KiB', 'lower', (r) => (r.idle ? r.idle.perConnectionBytes / 1024 : undefined));
  add('connect rate (10k)', 'conn/s', 'higher', (r) => r.idle?.connectPerSecond);
  for (const devices of scaleSteps) {
    const step = (r: TargetResults) => r.scale?.steps.find((s) => s.devices === devices);
    const label = shortCount(devices);
    add(`RSS at ${label} subscribers`, 'MiB', 'lower', (r) => {
      const s = step(r);
      return s ? s.rssBytes / 2 ** 20 : undefined;
    });
    add(`  connected of ${label}`, 'conn', null, (r) => step(r)?.connected);
    add(`CPU per message at ${label} subscribers`, 'µs', 'lower', (r) => step(r)?.cpuMicrosPerMessage);
  }
  const last = scaleSteps[scaleSteps.length - 1];
  if (last !== undefined && scaleSteps.length > 1) {
    add(`RSS per connection, ${shortCount(scaleSteps[0]!)} → ${shortCount(last)}`, 'KiB', 'lower', (r) => {
      const s = r.scale?.steps.find((x) => x.devices === last);
      return s ? s.perConnectionBytes / 1024 : undefined;
    });
  }
  return rows;
}

export function shortCount(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export function formatComparison(rows: Row[], targets: TargetName[]): string {
  const heralds = HERALD_TARGETS.filter((h) => targets.includes(h));
  const hasPeers = PEERS.some((p) => targets.includes(p));
  const header = ['figure', 'unit', ...targets, ...(hasPeers ? heralds.map((h) => `${h} ÷ best peer`) : [])];
  const body = rows.map((row) => [
    row.figure,
    row.unit,
    ...targets.map((t) => formatNumber(row.values[t])),
    ...(hasPeers ? heralds.map((h) => (row.ratios[h] === undefined ? '' : `${row.ratios[h]!.toFixed(2)}× (${row.bestPeer})`)) : []),
  ]);
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c >= 2 && c < 2 + targets.length ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(' | ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
}

/** The same table as Markdown, for BENCHMARKS.md. */
export function markdownComparison(rows: Row[], targets: TargetName[]): string {
  const heralds = HERALD_TARGETS.filter((h) => targets.includes(h));
  const hasPeers = PEERS.some((p) => targets.includes(p));
  const header = ['figure', 'unit', ...targets, ...(hasPeers ? heralds.map((h) => `${h} ÷ best peer`) : [])];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, c) => (c >= 2 && c < 2 + targets.length ? '---:' : '---')).join('|')}|`];
  for (const row of rows) {
    const cells = [
      row.figure.trim() === row.figure ? row.figure : `↳ ${row.figure.trim()}`,
      row.unit,
      ...targets.map((t) => formatNumber(row.values[t])),
      ...(hasPeers ? heralds.map((h) => (row.ratios[h] === undefined ? '' : `${row.ratios[h]!.toFixed(2)}× ${row.bestPeer}`)) : []),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
