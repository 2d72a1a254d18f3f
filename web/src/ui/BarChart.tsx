/**
 * Stacked bars over time, hand-drawn in SVG (no chart library, nothing from a CDN). The picture
 * is one `role="img"` with a summary for screen readers; each bar has a <title> with its numbers,
 * and the view shows the same totals as a table beside it.
 */
export interface ChartSeries {
  key: string;
  label: string;
  color: string;
}

export interface ChartBucket {
  start: number;
  /** Count per series key. */
  values: Record<string, number>;
}

const WIDTH = 720;
const HEIGHT = 180;
const LEFT = 44;
const BOTTOM = 20;
const TOP = 8;

const compact = new Intl.NumberFormat(undefined, { notation: 'compact' });

export function BarChart(props: {
  label: string;
  series: ChartSeries[];
  buckets: ChartBucket[];
  formatTime: (ms: number) => string;
}) {
  const { buckets, series } = props;
  const totals = buckets.map((b) => series.reduce((n, s) => n + (b.values[s.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const plotWidth = WIDTH - LEFT;
  const plotHeight = HEIGHT - BOTTOM - TOP;
  const step = plotWidth / Math.max(1, buckets.length);
  const barWidth = Math.max(1, step * 0.8);
  const y = (v: number) => (v / max) * plotHeight;
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={props.label}>
      <line class="axis" x1={LEFT} x2={WIDTH} y1={TOP + plotHeight} y2={TOP + plotHeight} />
      <line class="axis" x1={LEFT} x2={WIDTH} y1={TOP} y2={TOP} stroke-dasharray="3 3" />
      <text x={LEFT - 6} y={TOP + 4} text-anchor="end">
        {compact.format(max)}
      </text>
      <text x={LEFT - 6} y={TOP + plotHeight} text-anchor="end">
        0
      </text>
      {buckets.length > 0 && (
        <>
          <text x={LEFT} y={HEIGHT - 4}>
            {props.formatTime(buckets[0]!.start)}
          </text>
          <text x={WIDTH} y={HEIGHT - 4} text-anchor="end">
            {props.formatTime(buckets[buckets.length - 1]!.start)}
          </text>
        </>
      )}
      {buckets.map((b, i) => {
        if (totals[i] === 0) return null;
        let base = TOP + plotHeight;
        const x = LEFT + i * step + (step - barWidth) / 2;
        return (
          <g key={b.start}>
            <title>
              {props.formatTime(b.start)}:{' '}
              {series
                .filter((s) => b.values[s.key])
                .map((s) => `${s.label} ${b.values[s.key]}`)
                .join(', ')}
            </title>
            {series.map((s) => {
              const v = b.values[s.key] ?? 0;
              if (!v) return null;
              const h = y(v);
              base -= h;
              return <rect key={s.key} x={x} y={base} width={barWidth} height={h} fill={s.color} />;
            })}
          </g>
        );
      })}
    </svg>
  );
}
