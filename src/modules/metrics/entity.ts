import { EntitySchema } from '@mikro-orm/core';
import type { Environment } from '../projects/entity.js';
import { EnvironmentSchema } from '../projects/entity.js';

/**
 * How many times each variation of a flag was served in an environment, per minute. Counted in
 * memory on the evaluation path and added here in batches (upsert: count = count + new).
 * `variation` is -1 for evaluations that served no variation (an error without a value).
 */
export interface EvaluationCount {
  environment: Environment;
  flagKey: string;
  variation: number;
  minute: Date;
  count: number;
}

export const EvaluationCountSchema = new EntitySchema<EvaluationCount>({
  name: 'EvaluationCount',
  tableName: 'evaluation_counts',
  properties: {
    environment: { kind: 'm:1', entity: () => EnvironmentSchema, deleteRule: 'cascade', primary: true },
    flagKey: { type: 'string', length: 100, primary: true },
    variation: { type: 'integer', primary: true },
    minute: { type: 'Date', columnType: 'timestamptz', primary: true },
    count: { type: 'bigint' },
  },
  // The roll-up (rollup.ts) works through the table by time.
  indexes: [{ properties: ['minute'] }],
});

export type TrackedEventKind = 'impression' | 'custom';

/** An event an SDK reported through `POST /v1/track` (buffered, then inserted in batches). */
export interface TrackedEvent {
  id: string;
  environment: Environment;
  kind: TrackedEventKind;
  /** Impressions: the flag and the variation index the subject saw. */
  flagKey: string | null;
  variation: number | null;
  /** Custom events: the event's key (e.g. `checkout-completed`) and optional metric value. */
  eventKey: string | null;
  value: number | null;
  data: Record<string, unknown> | null;
  contextKey: string;
  /** When it happened (the SDK's timestamp), else when it was received. */
  occurredAt: Date;
  receivedAt: Date;
}

export const TrackedEventSchema = new EntitySchema<TrackedEvent>({
  name: 'TrackedEvent',
  tableName: 'tracked_events',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    environment: { kind: 'm:1', entity: () => EnvironmentSchema, deleteRule: 'cascade' },
    kind: { type: 'string', length: 20 },
    flagKey: { type: 'string', length: 100, nullable: true },
    variation: { type: 'integer', nullable: true },
    eventKey: { type: 'string', length: 200, nullable: true },
    value: { type: 'double', nullable: true },
    data: { type: 'json', nullable: true },
    contextKey: { type: 'string', length: 256 },
    occurredAt: { type: 'Date', columnType: 'timestamptz' },
    receivedAt: { type: 'Date', columnType: 'timestamptz' },
  },
  indexes: [{ properties: ['environment', 'occurredAt'] }, { properties: ['occurredAt'] }],
});

/**
 * When each variation of a flag was last served in an environment (the minute of its latest
 * count), kept beside the counts by every flush: `lastEvaluatedAt`, stale flags and the check
 * before archiving read this small table instead of scanning the counts.
 */
export interface EvaluationLastSeen {
  environment: Environment;
  flagKey: string;
  variation: number;
  lastEvaluatedAt: Date;
}

export const EvaluationLastSeenSchema = new EntitySchema<EvaluationLastSeen>({
  name: 'EvaluationLastSeen',
  tableName: 'evaluation_last_seen',
  properties: {
    environment: { kind: 'm:1', entity: () => EnvironmentSchema, deleteRule: 'cascade', primary: true },
    flagKey: { type: 'string', length: 100, primary: true },
    variation: { type: 'integer', primary: true },
    lastEvaluatedAt: { type: 'Date', columnType: 'timestamptz' },
  },
});

/**
 * Tracked events older than two days, rolled up (metrics/rollup.ts) into hourly and, after 30
 * days, daily counts. Absent parts of the key are stored as '' and -1 (key columns are not null).
 */
export interface TrackedEventCount {
  environment: Environment;
  kind: TrackedEventKind;
  flagKey: string;
  variation: number;
  eventKey: string;
  bucket: Date;
  count: number;
  /** The sum of the events' `value`s (custom events that carry one). */
  valueSum: number;
}

export const TrackedEventCountSchema = new EntitySchema<TrackedEventCount>({
  name: 'TrackedEventCount',
  tableName: 'tracked_event_counts',
  properties: {
    environment: { kind: 'm:1', entity: () => EnvironmentSchema, deleteRule: 'cascade', primary: true },
    kind: { type: 'string', length: 20, primary: true },
    flagKey: { type: 'string', length: 100, primary: true },
    variation: { type: 'integer', primary: true },
    eventKey: { type: 'string', length: 200, primary: true },
    bucket: { type: 'Date', columnType: 'timestamptz', primary: true },
    count: { type: 'bigint' },
    valueSum: { type: 'double', default: 0 },
  },
  indexes: [{ properties: ['bucket'] }],
});
