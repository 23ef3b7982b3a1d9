/**
 * A small line chart in SVG, drawn by Preact: the console needs a few series of at most 48 points,
 * which is less code than a charting dependency (uPlot is not installed). Presentation attributes
 * only (no inline style), so the strict CSP holds. Each chart has a table twin for screen readers.
 */
export interface Series {
  name: string;
  /** A CSS class giving the stroke colour (style.css). */
  tone: string;
  values: ReadonlyArray<number | null>;
}

const WIDTH = 640;
const HEIGHT = 180;
const PAD = { left: 44, right: 8, top: 10, bottom: 22 };

/** `summary`: what the legend shows per series, the total (counts) or the latest value (latencies). */
export function LineChart({ title, labels, series, summary = 'total' }: { title: string; labels: readonly string[]; series: readonly Series[]; summary?: 'total' | 'latest' }) {
  const shown = (values: ReadonlyArray<number | null>) => (summary === 'total' ? sum(values) : latest(values));
  const max = Math.max(1, ...series.flatMap((each) => each.values.map((value) => value ?? 0)));
  const n = Math.max(1, labels.length - 1);
  const x = (i: number) => PAD.left + (i / n) * (WIDTH - PAD.left - PAD.right);
  const y = (value: number) => HEIGHT - PAD.bottom - (value / max) * (HEIGHT - PAD.top - PAD.bottom);
  const path = (values: ReadonlyArray<number | null>) =>
    values.map((value, i) => (value === null ? '' : `${i === 0 || values[i - 1] === null ? 'M' : 'L'}${x(i).toFixed(1)},${y(value).toFixed(1)}`)).join(' ');
  const ticks = [0, max / 2, max];
  const every = Math.max(1, Math.ceil(labels.length / 6));
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title}: ${series.map((each) => `${each.name} ${shown(each.values)}`).join(', ')}`}>
        {ticks.map((tick) => (
          <g key={tick}>
            <line class="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(tick)} y2={y(tick)} />
            <text class="tick" x={PAD.left - 4} y={y(tick) + 4} text-anchor="end">{formatTick(tick)}</text>
          </g>
        ))}
        {labels.map((label, i) => (i % every === 0 ? <text key={label} class="tick" x={x(i)} y={HEIGHT - 6} text-anchor="middle">{label}</text> : null))}
        {series.map((each) => <path key={each.name} class={`line ${each.tone}`} d={path(each.values)} />)}
        {/* A point with no neighbour draws no line: a dot shows it. */}
        {series.flatMap((each) =>
          each.values.map((value, i) =>
            value !== null && (each.values[i - 1] ?? null) === null && (each.values[i + 1] ?? null) === null ? <circle key={`${each.name}${i}`} class={`dot ${each.tone}`} cx={x(i)} cy={y(value)} r={3} /> : null,
          ),
        )}
      </svg>
      <ul class="legend">
        {series.map((each) => <li key={each.name} class={each.tone}>{each.name}: {shown(each.values) ?? '—'}</li>)}
      </ul>
    </figure>
  );
}

function sum(values: ReadonlyArray<number | null>): number {
  return values.reduce<number>((total, value) => total + (value ?? 0), 0);
}

function latest(values: ReadonlyArray<number | null>): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i] as number;
  return null;
}

function formatTick(value: number): string {
  return value >= 10 || value === 0 ? String(Math.round(value)) : value.toFixed(1);
}
