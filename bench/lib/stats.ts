/** Small numeric helpers and the printed table. */

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export interface Figure {
  figure: string;
  value: number;
  unit: string;
  /** e.g. "≥ 10000"; empty when the figure has no target. */
  target: string;
  /** Every run's value, when the figure is a median of several. */
  runs?: number[];
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function formatTable(figures: Figure[]): string {
  const rows = [
    ['figure', 'value', 'unit', 'target', 'runs'],
    ...figures.map((f) => [f.figure, formatNumber(f.value), f.unit, f.target, f.runs && f.runs.length > 1 ? f.runs.map(formatNumber).join(' / ') : '']),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => (column === 1 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join(' | ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line)].join('\n');
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
