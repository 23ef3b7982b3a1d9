/**
 * The run's chart: an SVG written by hand (bars per figure, lines for growth with subscribers),
 * converted to PNG with rsvg-convert (Debian's librsvg2-bin, installed by bench/peers/install.sh).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { TargetResults } from './report.js';
import { formatNumber, shortCount } from './report.js';
import type { TargetName } from './types.js';

const COLORS: Record<TargetName, string> = { 'herald-sqlite': '#1f5fa8', 'herald-pg': '#6fa8dc', mosquitto: '#e07b1a', nchan: '#3a9a3a' };
const PANEL_W = 340;
const PANEL_H = 230;
const COLUMNS = 4;
const FONT = "font-family='DejaVu Sans, sans-serif'";

interface BarPanel {
  kind: 'bars';
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  value: (r: TargetResults) => number | undefined;
  /** A word after the value, e.g. that a latency run fell behind its pace. */
  note?: (r: TargetResults) => string;
}

interface LinePanel {
  kind: 'lines';
  title: string;
  unit: string;
  value: (step: { connected: number; rssBytes: number; cpuMicrosPerMessage: number }) => number;
}

const behind = (r: TargetResults) => (r.e2e && !r.e2e.latency.keptPace ? ' (fell behind pace)' : '');

const PANELS: Array<BarPanel | LinePanel> = [
  { kind: 'bars', title: 'end-to-end messages/s', unit: 'msg/s', better: 'higher', value: (r) => r.e2e?.messagesPerSecond },
  { kind: 'bars', title: 'server CPU per message', unit: 'µs', better: 'lower', value: (r) => r.e2e?.cpuMicrosPerMessage },
  { kind: 'bars', title: 'latency p50 at 50% of peak', unit: 'ms', better: 'lower', value: (r) => r.e2e?.latency.p50, note: behind },
  { kind: 'bars', title: 'latency p99 at 50% of peak', unit: 'ms', better: 'lower', value: (r) => r.e2e?.latency.p99, note: behind },
  { kind: 'bars', title: 'drain 1,000 × 20 stored', unit: 's', better: 'lower', value: (r) => r.drain?.drainSeconds },
  { kind: 'bars', title: 'RSS per idle connection', unit: 'KiB', better: 'lower', value: (r) => (r.idle ? r.idle.perConnectionBytes / 1024 : undefined) },
  { kind: 'lines', title: 'server RSS vs subscribers', unit: 'MiB', value: (s) => s.rssBytes / 2 ** 20 },
  { kind: 'lines', title: 'CPU per message vs subscribers', unit: 'µs', value: (s) => s.cpuMicrosPerMessage },
];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function barPanel(panel: BarPanel, results: Partial<Record<TargetName, TargetResults>>, targets: TargetName[]): string {
  const entries = targets.map((t) => [t, results[t] ? panel.value(results[t]!) : undefined, results[t] && panel.note ? panel.note(results[t]!) : ''] as const);
  const max = Math.max(0, ...entries.map(([, v]) => (v !== undefined && Number.isFinite(v) ? v : 0)));
  const left = 100;
  const right = entries.some(([, , note]) => note) ? 150 : 70;
  const top = 40;
  const barH = Math.min(34, (PANEL_H - top - 14) / Math.max(1, targets.length) - 8);
  const parts = [`<text x='10' y='20' font-size='14' font-weight='bold' ${FONT}>${escape(panel.title)}</text>`, `<text x='10' y='34' font-size='11' fill='#666' ${FONT}>${escape(panel.unit)}, ${panel.better} is better</text>`];
  entries.forEach(([target, value, note], i) => {
    const y = top + i * (barH + 8);
    parts.push(`<text x='${left - 6}' y='${y + barH / 2 + 4}' font-size='11' text-anchor='end' ${FONT}>${target}</text>`);
    if (value === undefined || !Number.isFinite(value)) {
      parts.push(`<text x='${left + 4}' y='${y + barH / 2 + 4}' font-size='11' fill='#999' ${FONT}>not measured</text>`);
      return;
    }
    const width = max > 0 ? ((PANEL_W - left - right) * value) / max : 0;
    parts.push(`<rect x='${left}' y='${y}' width='${Math.max(1, width).toFixed(1)}' height='${barH.toFixed(1)}' fill='${COLORS[target]}'/>`);
    parts.push(`<text x='${(left + width + 4).toFixed(1)}' y='${y + barH / 2 + 4}' font-size='11' ${FONT}>${escape(formatNumber(value) + note)}</text>`);
  });
  return parts.join('');
}

function linePanel(panel: LinePanel, results: Partial<Record<TargetName, TargetResults>>, targets: TargetName[]): string {
  const series = targets
    .map((t) => ({ target: t, points: (results[t]?.scale?.steps ?? []).map((s) => ({ x: s.connected, y: panel.value(s) })).filter((p) => Number.isFinite(p.y)) }))
    .filter((s) => s.points.length > 0);
  const parts = [`<text x='10' y='20' font-size='14' font-weight='bold' ${FONT}>${escape(panel.title)}</text>`, `<text x='10' y='34' font-size='11' fill='#666' ${FONT}>${escape(panel.unit)}; x: connected subscribers (log scale)</text>`];
  if (series.length === 0) return parts.join('') + `<text x='60' y='120' font-size='11' fill='#999' ${FONT}>not measured</text>`;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const x0 = Math.log10(Math.min(...xs));
  const x1 = Math.max(x0 + 0.5, Math.log10(Math.max(...xs)));
  const yMax = Math.max(...ys) * 1.1 || 1;
  const left = 56;
  const right = 16;
  const top = 46;
  const bottom = PANEL_H - 28;
  const px = (x: number) => left + ((Math.log10(x) - x0) / (x1 - x0)) * (PANEL_W - left - right);
  const py = (y: number) => bottom - (y / yMax) * (bottom - top);
  parts.push(`<line x1='${left}' y1='${bottom}' x2='${PANEL_W - right}' y2='${bottom}' stroke='#999'/>`, `<line x1='${left}' y1='${top}' x2='${left}' y2='${bottom}' stroke='#999'/>`);
  for (const frac of [0, 0.5, 1]) {
    const y = (yMax / 1.1) * frac;
    parts.push(`<text x='${left - 4}' y='${py(y) + 4}' font-size='10' text-anchor='end' ${FONT}>${escape(y === 0 ? '0' : formatNumber(y))}</text>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<text x='${px(x)}' y='${bottom + 14}' font-size='10' text-anchor='middle' ${FONT}>${escape(x >= 1000 ? `${(x / 1000).toFixed(x % 1000 === 0 ? 0 : 1)}k` : String(x))}</text>`);
  }
  for (const s of series) {
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    parts.push(`<path d='${d}' fill='none' stroke='${COLORS[s.target]}' stroke-width='2.5'/>`);
    for (const p of s.points) parts.push(`<circle cx='${px(p.x).toFixed(1)}' cy='${py(p.y).toFixed(1)}' r='3.5' fill='${COLORS[s.target]}'/>`);
  }
  return parts.join('');
}

/** Writes `<base>.svg` and, when rsvg-convert is there, `<base>.png`. Returns the PNG path or null. */
export function writeChart(base: string, results: Partial<Record<TargetName, TargetResults>>, targets: TargetName[], caption: string, scaleSteps: number[]): string | null {
  const rows = Math.ceil(PANELS.length / COLUMNS);
  const headerH = 64;
  const width = COLUMNS * PANEL_W + 20;
  const height = headerH + rows * PANEL_H + 10;
  const legend = targets.map((t, i) => `<rect x='${10 + i * 150}' y='40' width='14' height='14' fill='${COLORS[t]}'/><text x='${30 + i * 150}' y='52' font-size='12' ${FONT}>${t}</text>`).join('');
  const panels = PANELS.map((panel, i) => {
    const x = 10 + (i % COLUMNS) * PANEL_W;
    const y = headerH + Math.floor(i / COLUMNS) * PANEL_H;
    const inner = panel.kind === 'bars' ? barPanel(panel, results, targets) : linePanel(panel, results, targets);
    return `<g transform='translate(${x},${y})'><rect x='2' y='2' width='${PANEL_W - 8}' height='${PANEL_H - 8}' fill='#fafafa' stroke='#ddd'/>${inner}</g>`;
  }).join('');
  const steps = scaleSteps.map(shortCount).join(' → ');
  const svg = `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}'>
<rect width='100%' height='100%' fill='white'/>
<text x='10' y='24' font-size='16' font-weight='bold' ${FONT}>${escape(caption)}</text>
<text x='${width - 10}' y='24' font-size='11' fill='#666' text-anchor='end' ${FONT}>1,000 subscribers, 200-byte messages, 64 in flight; scale ${escape(steps)}</text>
${legend}
${panels}
</svg>
`;
  writeFileSync(`${base}.svg`, svg);
  try {
    execFileSync('rsvg-convert', ['-f', 'png', '-o', `${base}.png`, `${base}.svg`], { stdio: ['ignore', 'ignore', 'pipe'] });
    return `${base}.png`;
  } catch (error) {
    process.stderr.write(`[bench] no PNG chart (${(error as Error).message.split('\n')[0]}); run bench/peers/install.sh for rsvg-convert\n`);
    return null;
  }
}
