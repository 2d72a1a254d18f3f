import type { EntityManager } from '@mikro-orm/postgresql';
import type { ManagementPrincipal } from '../../auth/principal.js';
import { uuidArray } from '../../db/sql.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { getProject, listEnvironments } from '../projects/service.js';
import type { TrackedEventKind } from './entity.js';

/**
 * Reading back what the SDK doors recorded: evaluation counts per flag × variation ×
 * environment, and tracked events (impressions, custom events) per flag, variation and event
 * key, over a time range in minute, hour or day buckets (UTC). Only buckets with data are
 * returned. Data older than two days is kept per hour, older than 30 days per day (rollup.ts):
 * finer buckets over such a range find the coarser ones.
 */
export type MetricsBucket = 'minute' | 'hour' | 'day';

export const METRICS_LIMITS = {
  /** Buckets one range may span (2,000 minutes is about 33 hours; 2,000 hours about 83 days). */
  buckets: 2000,
  /** Points one answer may hold, over all its series. */
  points: 50_000,
  /** Flag or event keys one query may name. */
  keys: 100,
} as const;

const BUCKET_MS: Record<MetricsBucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export interface MetricsQuery {
  projectId: string;
  environmentIds?: readonly string[] | null;
  from: Date;
  to: Date;
  bucket: MetricsBucket;
}

export interface MetricsRange {
  /** Rounded down to the bucket. */
  from: Date;
  /** Rounded up to the bucket. */
  to: Date;
  bucket: MetricsBucket;
}

interface ScopedEnvironment {
  id: string;
  key: string;
}

export interface EvaluationPoint {
  start: Date;
  count: number;
}

export interface EvaluationSeries {
  environmentId: string;
  environmentKey: string;
  flagKey: string;
  /** Null for evaluations that served no variation (errors). */
  variation: number | null;
  total: number;
  points: EvaluationPoint[];
}

export interface TrackedPoint {
  start: Date;
  count: number;
  valueSum: number;
}

export interface TrackedSeries {
  environmentId: string;
  environmentKey: string;
  kind: TrackedEventKind;
  flagKey: string | null;
  variation: number | null;
  eventKey: string | null;
  total: number;
  valueSum: number;
  points: TrackedPoint[];
}

function rangeOf(query: MetricsQuery): MetricsRange {
  const size = BUCKET_MS[query.bucket];
  const from = Math.floor(query.from.getTime() / size) * size;
  const to = Math.ceil(query.to.getTime() / size) * size;
  if (!(to > from)) throw new ValidationError('to must be after from');
  if ((to - from) / size > METRICS_LIMITS.buckets) {
    throw new ValidationError(
      `the range spans more than ${METRICS_LIMITS.buckets} ${query.bucket}s: narrow it or use a larger bucket`,
    );
  }
  return { from: new Date(from), to: new Date(to), bucket: query.bucket };
}

function keysOf(keys: readonly string[] | null | undefined, what: string): string[] | null {
  if (!keys || keys.length === 0) return null;
  const unique = [...new Set(keys)];
  if (unique.length > METRICS_LIMITS.keys)
    throw new ValidationError(`${what} may name at most ${METRICS_LIMITS.keys} keys`);
  return unique;
}

/** The project's environments the query covers (all of them unless it names some, which must be the project's). */
async function environmentsOf(
  em: EntityManager,
  actor: ManagementPrincipal,
  query: MetricsQuery,
): Promise<ScopedEnvironment[]> {
  const project = await getProject(em, actor, { id: query.projectId });
  const all = await listEnvironments(em, project);
  if (!query.environmentIds || query.environmentIds.length === 0) return all;
  const wanted = new Set(query.environmentIds);
  const found = all.filter((e) => wanted.has(e.id));
  if (found.length !== wanted.size) throw new NotFoundError('environment');
  return found;
}

function tooMany(rows: unknown[]): void {
  if (rows.length > METRICS_LIMITS.points) {
    throw new ValidationError(
      `the answer would hold more than ${METRICS_LIMITS.points} points: narrow the range, the flags or use a larger bucket`,
    );
  }
}

/** Rows (ordered by series, then bucket) gathered into their series, in order of first appearance. */
function groupSeries<R, S>(
  rows: readonly R[],
  idOf: (row: R) => string,
  create: (row: R) => S,
  add: (s: S, row: R) => void,
): S[] {
  const series = new Map<string, S>();
  for (const row of rows) {
    const id = idOf(row);
    let s = series.get(id);
    if (s === undefined) series.set(id, (s = create(row)));
    add(s, row);
  }
  return [...series.values()];
}

const EVALUATIONS = `select c.environment_id, c.flag_key, c.variation,
    date_trunc(?, c.minute, 'UTC') as bucket, sum(c.count)::float8 as count
  from evaluation_counts c
  where c.environment_id = any(?::uuid[]) and c.minute >= ? and c.minute < ?
    and (?::jsonb is null or c.flag_key in (select jsonb_array_elements_text(?::jsonb)))
  group by 1, 2, 3, 4 order by 2, 1, 3, 4 limit ?`;

export async function evaluationMetrics(
  em: EntityManager,
  actor: ManagementPrincipal,
  query: MetricsQuery & { flagKeys?: readonly string[] | null },
): Promise<{ range: MetricsRange; series: EvaluationSeries[] }> {
  const range = rangeOf(query);
  const flagKeys = keysOf(query.flagKeys, 'flagKeys');
  const environments = await environmentsOf(em, actor, query);
  const keyOf = new Map(environments.map((e) => [e.id, e.key]));
  const keysJson = flagKeys ? JSON.stringify(flagKeys) : null;
  const rows: { environment_id: string; flag_key: string; variation: number; bucket: Date | string; count: number }[] =
    await em.execute(EVALUATIONS, [
      range.bucket,
      uuidArray(environments.map((e) => e.id)),
      range.from,
      range.to,
      keysJson,
      keysJson,
      METRICS_LIMITS.points + 1,
    ]);
  tooMany(rows);
  const series = groupSeries(
    rows,
    (row) => `${row.environment_id}\n${row.flag_key}\n${row.variation}`,
    (row): EvaluationSeries => ({
      environmentId: row.environment_id,
      environmentKey: keyOf.get(row.environment_id) ?? '',
      flagKey: row.flag_key,
      variation: row.variation < 0 ? null : row.variation,
      total: 0,
      points: [],
    }),
    (s, row) => {
      const count = Number(row.count);
      s.total += count;
      s.points.push({ start: new Date(row.bucket), count });
    },
  );
  return { range, series };
}

// Raw events (the last two days) and rolled-up counts (older), in one set of buckets.
const TRACKED = `select environment_id, kind, flag_key, variation, event_key, date_trunc(?, at, 'UTC') as bucket,
    sum(n)::float8 as count, sum(value_sum)::float8 as value_sum
  from (
    select environment_id, kind, coalesce(flag_key, '') as flag_key, coalesce(variation, -1) as variation,
      coalesce(event_key, '') as event_key, occurred_at as at, 1::bigint as n, coalesce(value, 0) as value_sum
    from tracked_events where environment_id = any(?::uuid[]) and occurred_at >= ? and occurred_at < ?
    union all
    select environment_id, kind, flag_key, variation, event_key, bucket, count, value_sum
    from tracked_event_counts where environment_id = any(?::uuid[]) and bucket >= ? and bucket < ?
  ) events
  where (?::text is null or kind = ?)
    and (?::jsonb is null or flag_key in (select jsonb_array_elements_text(?::jsonb)))
    and (?::jsonb is null or event_key in (select jsonb_array_elements_text(?::jsonb)))
  group by 1, 2, 3, 4, 5, 6 order by 1, 2, 3, 4, 5, 6 limit ?`;

export async function trackedEventMetrics(
  em: EntityManager,
  actor: ManagementPrincipal,
  query: MetricsQuery & {
    kind?: TrackedEventKind | null;
    flagKeys?: readonly string[] | null;
    eventKeys?: readonly string[] | null;
  },
): Promise<{ range: MetricsRange; series: TrackedSeries[] }> {
  const range = rangeOf(query);
  const flagKeys = keysOf(query.flagKeys, 'flagKeys');
  const eventKeys = keysOf(query.eventKeys, 'eventKeys');
  const environments = await environmentsOf(em, actor, query);
  const keyOf = new Map(environments.map((e) => [e.id, e.key]));
  const ids = uuidArray(environments.map((e) => e.id));
  const flags = flagKeys ? JSON.stringify(flagKeys) : null;
  const events = eventKeys ? JSON.stringify(eventKeys) : null;
  const kind = query.kind ?? null;
  const rows: {
    environment_id: string;
    kind: TrackedEventKind;
    flag_key: string;
    variation: number;
    event_key: string;
    bucket: Date | string;
    count: number;
    value_sum: number;
  }[] = await em.execute(TRACKED, [
    range.bucket,
    ids,
    range.from,
    range.to,
    ids,
    range.from,
    range.to,
    kind,
    kind,
    flags,
    flags,
    events,
    events,
    METRICS_LIMITS.points + 1,
  ]);
  tooMany(rows);
  const series = groupSeries(
    rows,
    (row) => `${row.environment_id}\n${row.kind}\n${row.flag_key}\n${row.variation}\n${row.event_key}`,
    (row): TrackedSeries => ({
      environmentId: row.environment_id,
      environmentKey: keyOf.get(row.environment_id) ?? '',
      kind: row.kind,
      flagKey: row.flag_key || null,
      variation: row.variation < 0 ? null : row.variation,
      eventKey: row.event_key || null,
      total: 0,
      valueSum: 0,
      points: [],
    }),
    (s, row) => {
      const count = Number(row.count);
      const valueSum = Number(row.value_sum);
      s.total += count;
      s.valueSum += valueSum;
      s.points.push({ start: new Date(row.bucket), count, valueSum });
    },
  );
  return { range, series };
}
