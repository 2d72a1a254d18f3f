import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { BarChart, type ChartBucket, type ChartSeries } from '../../ui/BarChart.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { Loading } from '../../ui/Page.tsx';
import { LastEvaluated } from './LastEvaluated.tsx';
import { formatValue } from './values.ts';

/**
 * How a flag is used (metrics:read): evaluations per variation over a range, as a chart per
 * environment with the totals beside it, impressions reported through /v1/track, and when it was
 * last evaluated in each environment.
 */
const FlagMetricsQuery = graphql(`
  query FlagMetrics($projectId: ID!, $flagKey: String!, $from: DateTime!, $to: DateTime!, $bucket: MetricsBucket!) {
    flagMetrics(projectId: $projectId, flagKeys: [$flagKey], from: $from, to: $to, bucket: $bucket) {
      from to bucket
      series { environmentId variation total points { start count } }
    }
    trackedEventMetrics(projectId: $projectId, flagKeys: [$flagKey], kind: IMPRESSION, from: $from, to: $to, bucket: $bucket) {
      series { environmentId variation total }
    }
    project(id: $projectId) {
      flag(key: $flagKey) { environments { environmentId lastEvaluatedAt } }
    }
  }
`);

type Bucket = 'MINUTE' | 'HOUR' | 'DAY';
const BUCKET_MS: Record<Bucket, number> = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };
const HOUR = 3_600_000;
/** Each range with the buckets that fit the API's 2000 per answer, the first being the default. */
const RANGES = {
  hour: { label: 'Last hour', ms: HOUR, buckets: ['MINUTE'] },
  day: { label: 'Last 24 hours', ms: 24 * HOUR, buckets: ['HOUR', 'MINUTE'] },
  week: { label: 'Last 7 days', ms: 7 * 24 * HOUR, buckets: ['HOUR', 'DAY'] },
  month: { label: 'Last 30 days', ms: 30 * 24 * HOUR, buckets: ['DAY', 'HOUR'] },
} as const satisfies Record<string, { label: string; ms: number; buckets: readonly Bucket[] }>;
type Range = keyof typeof RANGES;
const BUCKET_LABEL: Record<Bucket, string> = { MINUTE: 'per minute', HOUR: 'per hour', DAY: 'per day (UTC)' };

const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#7c3aed'];
const NO_VARIATION = '#6b7280';

/** The range ending at the next whole minute, so the bucket being filled now is in it. */
function windowOf(range: Range) {
  const to = Math.ceil((Date.now() + 1) / 60_000) * 60_000;
  return { from: new Date(to - RANGES[range].ms).toISOString(), to: new Date(to).toISOString() };
}

/** Every bucket of the range, empty ones too, so the bars keep their place in time. */
function bucketsOf(from: string, to: string, bucket: Bucket): number[] {
  const step = BUCKET_MS[bucket];
  const starts: number[] = [];
  for (let t = Math.floor(Date.parse(from) / step) * step; t < Date.parse(to); t += step) starts.push(t);
  return starts;
}

export function FlagMetrics(props: {
  projectId: string;
  flagKey: string;
  variations: { name?: string | null; value?: unknown }[];
  environments: { environment: { id: string; key: string; name: string } }[];
}) {
  const [range, setRange] = useState<Range>('day');
  const [bucket, setBucket] = useState<Bucket>('HOUR');
  const [span, setSpan] = useState(() => windowOf('day'));
  const [result] = useQuery({
    query: FlagMetricsQuery,
    variables: { projectId: props.projectId, flagKey: props.flagKey, ...span, bucket },
    requestPolicy: 'cache-and-network',
  });
  const choose = (next: Range) => {
    setRange(next);
    setBucket(RANGES[next].buckets[0]);
    setSpan(windowOf(next));
  };
  const label = (variation: number | null | undefined) => {
    if (variation === null || variation === undefined) return 'no variation (error)';
    const v = props.variations[variation];
    return v?.name || (v ? formatValue(v.value) : `variation ${variation}`);
  };
  const data = result.data;
  const formatTime = (ms: number) =>
    bucket === 'DAY'
      ? // Day buckets are UTC days: named as such, not as the local day they start in.
        new Date(ms).toLocaleDateString(undefined, { timeZone: 'UTC' })
      : new Date(ms).toLocaleString(undefined, {
          dateStyle: range === 'hour' ? undefined : 'short',
          timeStyle: 'short',
        });

  return (
    <section class="metrics" aria-labelledby="metrics-title">
      <div class="section-head">
        <h2 id="metrics-title">Evaluations</h2>
        <div class="actions filters">
          <label>
            Range
            <select value={range} onChange={(e) => choose(e.currentTarget.value as Range)}>
              {Object.entries(RANGES).map(([k, r]) => (
                <option key={k} value={k}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Bucket
            <select value={bucket} onChange={(e) => setBucket(e.currentTarget.value as Bucket)}>
              {RANGES[range].buckets.map((b) => (
                <option key={b} value={b}>
                  {BUCKET_LABEL[b]}
                </option>
              ))}
            </select>
          </label>
          <button type="button" class="small" onClick={() => setSpan(windowOf(range))}>
            Refresh
          </button>
        </div>
      </div>
      <ErrorNote error={result.error} />
      {!data
        ? result.fetching && <Loading />
        : props.environments.map(({ environment: env }) => {
            const series = data.flagMetrics.series.filter((s) => s.environmentId === env.id);
            const impressions = data.trackedEventMetrics.series.filter((s) => s.environmentId === env.id);
            const last = data.project.flag.environments.find((s) => s.environmentId === env.id)?.lastEvaluatedAt;
            const keys = [...new Set([...series, ...impressions].map((s) => s.variation ?? null))].sort(
              (a, b) => (a ?? Number.POSITIVE_INFINITY) - (b ?? Number.POSITIVE_INFINITY),
            );
            const chartSeries: ChartSeries[] = keys.map((v) => ({
              key: String(v),
              label: label(v),
              color: v === null ? NO_VARIATION : PALETTE[v % PALETTE.length]!,
            }));
            const buckets: ChartBucket[] = bucketsOf(data.flagMetrics.from, data.flagMetrics.to, bucket).map(
              (start) => ({
                start,
                values: {},
              }),
            );
            const index = new Map(buckets.map((b, i) => [b.start, i]));
            for (const s of series) {
              for (const p of s.points) {
                const b = buckets[index.get(Date.parse(p.start)) ?? -1];
                if (b) b.values[String(s.variation ?? null)] = (b.values[String(s.variation ?? null)] ?? 0) + p.count;
              }
            }
            const total = series.reduce((n, s) => n + s.total, 0);
            return (
              <section key={env.id} class="card" aria-labelledby={`metrics-${env.key}`} data-env={env.key}>
                <header class="section-head">
                  <h3 id={`metrics-${env.key}`}>{env.name}</h3>
                  <LastEvaluated at={last ?? null} />
                </header>
                {total === 0 && impressions.length === 0 ? (
                  <p class="muted">No evaluations in this range.</p>
                ) : (
                  <>
                    <BarChart
                      label={`Evaluations of ${props.flagKey} in ${env.name}, ${BUCKET_LABEL[bucket]}, ${RANGES[range].label.toLowerCase()}: ${chartSeries
                        .map(
                          (s) => `${s.label} ${series.find((x) => String(x.variation ?? null) === s.key)?.total ?? 0}`,
                        )
                        .join(', ')}`}
                      series={chartSeries}
                      buckets={buckets}
                      formatTime={formatTime}
                    />
                    <table class="metric-totals">
                      <caption class="visually-hidden">
                        Totals per variation in {env.name}, {RANGES[range].label.toLowerCase()}
                      </caption>
                      <thead>
                        <tr>
                          <th scope="col">Variation</th>
                          <th scope="col">Evaluations</th>
                          <th scope="col">Impressions</th>
                        </tr>
                      </thead>
                      <tbody>
                        {chartSeries.map((s) => (
                          <tr key={s.key} data-variation={s.key}>
                            <th scope="row">
                              <span class="legend-swatch" style={{ backgroundColor: s.color }} aria-hidden="true" />
                              {s.label}
                            </th>
                            <td data-field="evaluations">
                              {series.find((x) => String(x.variation ?? null) === s.key)?.total ?? 0}
                            </td>
                            <td data-field="impressions">
                              {impressions.find((x) => String(x.variation ?? null) === s.key)?.total ?? 0}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </>
                )}
              </section>
            );
          })}
    </section>
  );
}
