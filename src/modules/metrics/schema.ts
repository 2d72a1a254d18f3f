import type { ObjectRef } from '@pothos/core';
import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import {
  type EvaluationPoint,
  type EvaluationSeries,
  evaluationMetrics,
  METRICS_LIMITS,
  type MetricsBucket,
  type MetricsRange,
  type TrackedPoint,
  type TrackedSeries,
  trackedEventMetrics,
} from './queries.js';

const read = { permission: 'metrics:read' } as const;

const MetricsBucketEnum = builder.enumType('MetricsBucket', {
  values: { MINUTE: { value: 'minute' }, HOUR: { value: 'hour' }, DAY: { value: 'day' } } as const,
});

export const TrackedEventKindEnum = builder.enumType('TrackedEventKind', {
  values: {
    IMPRESSION: { value: 'impression', description: 'A subject saw a variation of a flag.' },
    CUSTOM: { value: 'custom', description: 'An event of its own key (checkout-completed), with an optional value.' },
  } as const,
});

const EvaluationPointType = builder.objectRef<EvaluationPoint>('EvaluationPoint').implement({
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime', description: "The bucket's start (UTC)." }),
    count: t.exposeFloat('count'),
  }),
});

const EvaluationSeriesType = builder.objectRef<EvaluationSeries>('EvaluationSeries').implement({
  description: 'Evaluations of one flag variation in one environment.',
  fields: (t) => ({
    environmentId: t.exposeID('environmentId'),
    environmentKey: t.exposeString('environmentKey'),
    flagKey: t.exposeString('flagKey'),
    variation: t.exposeInt('variation', { nullable: true, description: 'Null: evaluations that served no variation.' }),
    total: t.exposeFloat('total'),
    points: t.field({
      type: [EvaluationPointType],
      description: 'Buckets with evaluations, oldest first.',
      resolve: (s) => s.points,
    }),
  }),
});

type Answer<S> = { range: MetricsRange; series: S[] };

/** `<name>`: a range, its bucket and the series found in it. */
// biome-ignore lint/suspicious/noExplicitAny: any object type whose backing value is S
function answerOf<S>(name: string, seriesType: ObjectRef<any, S>) {
  return builder.objectRef<Answer<S>>(name).implement({
    fields: (t) => ({
      from: t.field({ type: 'DateTime', resolve: (a) => a.range.from }),
      to: t.field({ type: 'DateTime', resolve: (a) => a.range.to }),
      bucket: t.field({ type: MetricsBucketEnum, resolve: (a) => a.range.bucket }),
      series: t.field({ type: [seriesType], resolve: (a) => a.series }),
    }),
  });
}

const FlagMetricsType = answerOf('FlagMetrics', EvaluationSeriesType);

const TrackedPointType = builder.objectRef<TrackedPoint>('TrackedEventPoint').implement({
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime' }),
    count: t.exposeFloat('count'),
    valueSum: t.exposeFloat('valueSum', { description: "The sum of the events' values." }),
  }),
});

const TrackedSeriesType = builder.objectRef<TrackedSeries>('TrackedEventSeries').implement({
  description: 'Tracked events of one kind and key in one environment.',
  fields: (t) => ({
    environmentId: t.exposeID('environmentId'),
    environmentKey: t.exposeString('environmentKey'),
    kind: t.field({ type: TrackedEventKindEnum, resolve: (s) => s.kind }),
    flagKey: t.exposeString('flagKey', { nullable: true }),
    variation: t.exposeInt('variation', { nullable: true }),
    eventKey: t.exposeString('eventKey', { nullable: true }),
    total: t.exposeFloat('total'),
    valueSum: t.exposeFloat('valueSum'),
    points: t.field({ type: [TrackedPointType], resolve: (s) => s.points }),
  }),
});

const TrackedEventMetricsType = answerOf('TrackedEventMetrics', TrackedSeriesType);

const rangeArgs = builder.args((t) => ({
  projectId: t.id({ required: true }),
  environmentIds: t.idList({ required: false, description: 'Default: every environment of the project.' }),
  from: t.field({ type: 'DateTime', required: true, description: 'Rounded down to the bucket.' }),
  to: t.field({ type: 'DateTime', required: true, description: 'Exclusive; rounded up to the bucket.' }),
  bucket: t.field({ type: MetricsBucketEnum, required: false, defaultValue: 'hour' }),
}));

/** The range arguments, as the queries take them. */
const rangeQuery = (args: {
  projectId: string | number;
  environmentIds?: readonly (string | number)[] | null;
  from: Date;
  to: Date;
  bucket?: MetricsBucket | null;
}) => ({
  projectId: String(args.projectId),
  environmentIds: args.environmentIds?.map(String),
  from: args.from,
  to: args.to,
  bucket: args.bucket ?? 'hour',
});

const limits = `At most ${METRICS_LIMITS.buckets} buckets per range and ${METRICS_LIMITS.points} points per answer. Counts older than 2 days are kept per hour, older than 30 days per day.`;

builder.queryFields((t) => ({
  flagMetrics: t.field({
    type: FlagMetricsType,
    description: `Evaluation counts per flag, variation and environment over a time range, in buckets (UTC); only buckets with evaluations are listed. ${limits}`,
    authScopes: read,
    args: { ...rangeArgs, flagKeys: t.arg.stringList({ required: false, description: 'Default: every flag.' }) },
    resolve: (_r, args, ctx) =>
      evaluationMetrics(ctx.em, actorOf(ctx), { ...rangeQuery(args), flagKeys: args.flagKeys }),
  }),
  trackedEventMetrics: t.field({
    type: TrackedEventMetricsType,
    description: `Impressions and custom events reported through /v1/track, per flag, variation and event key, over a time range in buckets. ${limits}`,
    authScopes: read,
    args: {
      ...rangeArgs,
      kind: t.arg({ type: TrackedEventKindEnum, required: false, description: 'Default: both kinds.' }),
      flagKeys: t.arg.stringList({ required: false }),
      eventKeys: t.arg.stringList({ required: false }),
    },
    resolve: (_r, args, ctx) =>
      trackedEventMetrics(ctx.em, actorOf(ctx), {
        ...rangeQuery(args),
        kind: args.kind,
        flagKeys: args.flagKeys,
        eventKeys: args.eventKeys,
      }),
  }),
}));
