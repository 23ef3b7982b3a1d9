/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self and inclusive time per function and self
 * time per package, optionally only over a time window. Also runnable on its own:
 *   node --import tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds, on the same monotonic clock as process.hrtime on Linux. */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface CostLine {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  /** Milliseconds of samples in the window, idle included. */
  totalMs: number;
  idleMs: number;
  /** True when a window was asked for and the profile's clock matched it. */
  windowed: boolean;
  self: CostLine[];
  inclusive: CostLine[];
  packages: CostLine[];
  /** For the heaviest self-time functions: which callers their time came from. */
  callers: Array<{ callee: string; callers: CostLine[] }>;
}

/** Window bounds are process.hrtime.bigint() values of the caller (ns); on Linux both clocks are CLOCK_MONOTONIC. */
export function summarizeProfile(file: string, top = 25, window?: { startNs: bigint; endNs: bigint }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // tsx's output keeps few line breaks, so an anonymous function is named after its nearest
  // named caller and told apart by line and column.
  const nameOf = (node: ProfileNode): string => {
    if (node.callFrame.functionName) return node.callFrame.functionName;
    for (let at = parent.get(node.id); at !== undefined; at = parent.get(at)) {
      const name = (byId.get(at) as ProfileNode).callFrame.functionName;
      if (name && !name.startsWith('(')) return `(anonymous in ${name})`;
    }
    return '(anonymous)';
  };
  const keyOf = (node: ProfileNode) => `${nameOf(node)}\u0000${location(node)}`;
  let from = -Infinity;
  let to = Infinity;
  let windowed = false;
  if (window) {
    const startUs = Number(window.startNs / 1000n);
    const endUs = Number(window.endNs / 1000n);
    // Only trust the window if it falls inside the profile (same clock); else use everything.
    if (startUs >= profile.startTime && startUs < profile.endTime) {
      from = startUs;
      to = endUs;
      windowed = true;
    }
  }

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  const callerCosts = new Map<string, Map<string, number>>();
  let totalUs = 0;
  let idleUs = 0;
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    // A sample's delta is the time until the next sample: attribute the next delta to it.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    if (time < from || time > to) continue;
    const node = byId.get(profile.samples[i] as number);
    if (!node) continue;
    totalUs += delta;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += delta;
      continue;
    }
    const key = keyOf(node);
    self.set(key, (self.get(key) ?? 0) + delta);
    const callerNode = parent.get(node.id);
    if (callerNode !== undefined) {
      const callerKey = keyOf(byId.get(callerNode) as ProfileNode);
      const costs = callerCosts.get(key) ?? new Map<string, number>();
      costs.set(callerKey, (costs.get(callerKey) ?? 0) + delta);
      callerCosts.set(key, costs);
    }
    const pkg = packageOf(node);
    packages.set(pkg, (packages.get(pkg) ?? 0) + delta);
    const seen = new Set<string>();
    for (let at: number | undefined = node.id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at) as ProfileNode;
      if (frame.callFrame.functionName === '(root)') break;
      const frameKey = keyOf(frame);
      if (seen.has(frameKey)) continue;
      seen.add(frameKey);
      inclusive.set(frameKey, (inclusive.get(frameKey) ?? 0) + delta);
    }
  }

  const busyUs = Math.max(1, totalUs - idleUs);
  const lines = (costs: Map<string, number>, limit: number): CostLine[] =>
    [...costs]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([key, us]) => {
        const [name, where] = key.split('\u0000') as [string, string | undefined];
        return { name, where: where ?? '', ms: Math.round(us / 1000), percent: Math.round((1000 * us) / busyUs) / 10 };
      });
  const selfLines = lines(self, top);
  const selfKeys = [...self].sort((a, b) => b[1] - a[1]).map(([key]) => key);
  return {
    totalMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    windowed,
    self: selfLines,
    inclusive: lines(inclusive, top),
    packages: lines(packages, top),
    callers: selfKeys.slice(0, 12).map((key, index) => ({
      callee: `${selfLines[index]?.name ?? key}`,
      callers: lines(callerCosts.get(key) ?? new Map(), 3),
    })),
  };
}

function location(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (!url) return '';
  const file = url.replace(/^file:\/\//, '');
  const inModules = file.lastIndexOf('node_modules/');
  const short = inModules >= 0 ? file.slice(inModules + 'node_modules/'.length) : file.includes('/src/') ? file.slice(file.indexOf('/src/') + 1) : file;
  return `${short}:${node.callFrame.lineNumber + 1}:${node.callFrame.columnNumber + 1}`;
}

/** An npm package, a Herald folder (src/push/…), node's own code, or V8's pseudo-frames. */
function packageOf(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (!url) return node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : '(native)';
  if (url.startsWith('node:')) return 'node core';
  const inModules = url.lastIndexOf('node_modules/');
  if (inModules >= 0) {
    const rest = url.slice(inModules + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const src = url.indexOf('/src/');
  if (src >= 0) return path.dirname(url.slice(src + 1));
  return url;
}

export function formatSummary(summary: ProfileSummary): string {
  const busy = summary.totalMs - summary.idleMs;
  const out = [
    `profile: ${summary.totalMs} ms sampled${summary.windowed ? ' (load window only)' : ''}, ${summary.idleMs} ms idle, ${busy} ms busy; percentages are of busy time`,
  ];
  const section = (title: string, lines: CostLine[], withWhere: boolean) => {
    out.push('', title);
    for (const line of lines) {
      out.push(`  ${String(line.percent).padStart(5)}%  ${String(line.ms).padStart(6)} ms  ${line.name}${withWhere && line.where ? `  (${line.where})` : ''}`);
    }
  };
  section('self time by function', summary.self, true);
  section('inclusive time by function', summary.inclusive, true);
  section('self time by package / folder', summary.packages, false);
  out.push('', 'callers of the heaviest self-time functions (percent of busy time)');
  for (const { callee, callers } of summary.callers) {
    out.push(`  ${callee}: ${callers.map((line) => `${line.name} ${line.percent}%`).join(', ')}`);
  }
  return out.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top=25]\n');
    process.exit(2);
  }
  process.stdout.write(formatSummary(summarizeProfile(file, Number(top ?? 25))) + '\n');
}
