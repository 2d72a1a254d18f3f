import { Type } from 'typebox';
import {
  defineRoute,
  Int32,
  Nullable,
  PAGE_FIELDS,
  Page,
  PageQuery,
  strict,
  Timestamp,
  Uuid,
  upper,
} from '../../rest/route.js';

/** Metrics over REST (`/v1/metrics/*`): the GraphQL queries of metrics/schema.ts and flags/usage.ts. */

const Range = {
  project_id: Uuid,
  from: Timestamp,
  to: Timestamp,
  bucket: Type.Optional(Type.Enum(['minute', 'hour', 'day'], { default: 'hour' })),
  environment_ids: Type.Optional(Type.String({ description: 'Comma-separated environment ids (default: all).' })),
};
const Keys = (what: string) => Type.Optional(Type.String({ description: `Comma-separated ${what} (default: all).` }));
const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((v) => v.trim())
    .filter(Boolean);
const rangeVariables = (query: {
  project_id: string;
  from: string;
  to: string;
  bucket?: string;
  environment_ids?: string;
}) => ({
  projectId: query.project_id,
  from: query.from,
  to: query.to,
  bucket: upper(query.bucket ?? 'hour'),
  environmentIds: list(query.environment_ids),
});
const answer = <S extends object>(data: { from: string; to: string; bucket: string; series: S[] }) => ({
  ...data,
  bucket: data.bucket.toLowerCase(),
});

const EvaluationSeries = Type.Object({
  environment_id: Uuid,
  environment_key: Type.String(),
  flag_key: Type.String(),
  variation: Nullable(Type.Integer({ description: 'Null: evaluations that served no variation.' })),
  total: Type.Number(),
  points: Type.Array(Type.Object({ start: Timestamp, count: Type.Number() })),
});
const TrackedSeries = Type.Object({
  environment_id: Uuid,
  environment_key: Type.String(),
  kind: Type.Enum(['impression', 'custom']),
  flag_key: Nullable(Type.String()),
  variation: Nullable(Type.Integer()),
  event_key: Nullable(Type.String()),
  total: Type.Number(),
  value_sum: Type.Number(),
  points: Type.Array(Type.Object({ start: Timestamp, count: Type.Number(), value_sum: Type.Number() })),
});
const Answer = <T extends ReturnType<typeof Type.Object>>(series: T) =>
  Type.Object({ from: Timestamp, to: Timestamp, bucket: Type.String(), series: Type.Array(series) });

const tag = 'Metrics';
const limits = 'At most 2,000 buckets per range and 50,000 points per answer; only buckets with data are listed.';

export const metricsRoutes = [
  defineRoute({
    name: 'getEvaluationMetrics',
    method: 'GET',
    url: '/v1/metrics/evaluations',
    tag,
    summary: 'Evaluation counts',
    description: `Per flag, variation and environment over a time range, in minute, hour or day buckets (UTC). ${limits}`,
    permission: 'metrics:read',
    query: Type.Object({ ...Range, flag_keys: Keys('flag keys') }, strict),
    status: 200,
    response: Answer(EvaluationSeries),
    operation: `query RestEvaluationMetrics($projectId: ID!, $from: DateTime!, $to: DateTime!, $bucket: MetricsBucket,
      $environmentIds: [ID!], $flagKeys: [String!]) {
      flagMetrics(projectId: $projectId, from: $from, to: $to, bucket: $bucket, environmentIds: $environmentIds, flagKeys: $flagKeys) {
        from to bucket series { environment_id: environmentId environment_key: environmentKey flag_key: flagKey variation total
          points { start count } }
      }
    }`,
    variables: ({ query }) => ({ ...rangeVariables(query), flagKeys: list(query.flag_keys) }),
    result: (data) => answer(data.flagMetrics),
  }),
  defineRoute({
    name: 'getImpressionMetrics',
    method: 'GET',
    url: '/v1/metrics/impressions',
    tag,
    summary: 'Impressions and custom events',
    description: `What SDKs reported through /v1/track, per flag, variation and event key, in buckets (counts and value sums). ${limits}`,
    permission: 'metrics:read',
    query: Type.Object(
      {
        ...Range,
        kind: Type.Optional(Type.Enum(['impression', 'custom'])),
        flag_keys: Keys('flag keys'),
        event_keys: Keys('event keys'),
      },
      strict,
    ),
    status: 200,
    response: Answer(TrackedSeries),
    operation: `query RestImpressionMetrics($projectId: ID!, $from: DateTime!, $to: DateTime!, $bucket: MetricsBucket,
      $environmentIds: [ID!], $kind: TrackedEventKind, $flagKeys: [String!], $eventKeys: [String!]) {
      trackedEventMetrics(projectId: $projectId, from: $from, to: $to, bucket: $bucket, environmentIds: $environmentIds,
        kind: $kind, flagKeys: $flagKeys, eventKeys: $eventKeys) {
        from to bucket series { environment_id: environmentId environment_key: environmentKey kind flag_key: flagKey variation
          event_key: eventKey total value_sum: valueSum points { start count value_sum: valueSum } }
      }
    }`,
    variables: ({ query }) => ({
      ...rangeVariables(query),
      kind: query.kind ? upper(query.kind) : undefined,
      flagKeys: list(query.flag_keys),
      eventKeys: list(query.event_keys),
    }),
    result: (data) => ({
      ...answer(data.trackedEventMetrics),
      series: data.trackedEventMetrics.series.map((s: { kind: string }) => ({ ...s, kind: s.kind.toLowerCase() })),
    }),
  }),
  defineRoute({
    name: 'listStaleFlags',
    method: 'GET',
    url: '/v1/metrics/stale-flags',
    tag,
    summary: 'Stale flags',
    description:
      'Live flags older than `days` that in the last `days` days were not evaluated, or served one variation to all traffic.',
    permission: 'metrics:read',
    query: Type.Object({ ...PageQuery, project_id: Uuid, days: Int32({ minimum: 1, maximum: 365 }) }, strict),
    status: 200,
    response: Page(
      Type.Object({
        flag_id: Uuid,
        flag_key: Type.String(),
        reason: Type.Enum(['not_evaluated', 'single_variation']),
        last_evaluated_at: Nullable(Timestamp),
        served_variation: Nullable(Type.Integer()),
      }),
    ),
    operation: `query RestStaleFlags($projectId: ID!, $days: Int!, $limit: Int, $offset: Int) {
      staleFlags(projectId: $projectId, days: $days, limit: $limit, offset: $offset) {
        data { flag { id key } reason last_evaluated_at: lastEvaluatedAt served_variation: servedVariation } ${PAGE_FIELDS}
      }
    }`,
    variables: ({ query }) => ({
      projectId: query.project_id,
      days: query.days,
      limit: query.limit,
      offset: query.offset,
    }),
    result: (data) => ({
      ...data.staleFlags,
      data: data.staleFlags.data.map((s: { flag: { id: string; key: string }; reason: string }) => ({
        ...s,
        flag_id: s.flag.id,
        flag_key: s.flag.key,
        reason: s.reason.toLowerCase(),
      })),
    }),
  }),
];
