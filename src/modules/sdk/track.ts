import { jsonValueProblem } from '../../common/json.js';
import { ValidationError } from '../../errors.js';
import type { TrackedEventRow } from '../metrics/events.js';

/** One event of `POST /v1/track` as the schema admits it. */
export interface TrackEventInput {
  kind: 'impression' | 'custom';
  flag_key?: string;
  variation?: number;
  key?: string;
  context_key: string;
  value?: number;
  data?: Record<string, unknown>;
  timestamp?: number | string;
}

const REQUIRED = { impression: ['flag_key', 'variation'], custom: ['key'] } as const;
const FORBIDDEN = { impression: ['key', 'value', 'data'], custom: ['flag_key', 'variation'] } as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_AHEAD_MS = 24 * 3600_000;

function occurredAt(timestamp: number | string | undefined, now: number, at: string): string {
  if (timestamp === undefined) return new Date(now).toISOString();
  const time = typeof timestamp === 'number' ? timestamp : RFC3339.test(timestamp) ? Date.parse(timestamp) : NaN;
  if (!Number.isFinite(time) || time < MIN_TIME || time > now + MAX_AHEAD_MS) {
    throw new ValidationError(
      `field "${at}.timestamp" must be epoch milliseconds or an RFC 3339 date-time, not in the future`,
    );
  }
  return new Date(time).toISOString();
}

/**
 * The rows to store for a batch, checked whole: the first bad event refuses the batch. Each event
 * is held to the JSON limits of every SDK door (no NUL, bounded nesting and size), so every row
 * buffered is one the database can store.
 */
export function trackedRows(environmentId: string, events: readonly TrackEventInput[], now: number): TrackedEventRow[] {
  const receivedAt = new Date(now).toISOString();
  return events.map((event, i) => {
    const at = `events.${i}`;
    const problem = jsonValueProblem(event, at);
    if (problem) throw new ValidationError(problem);
    for (const field of REQUIRED[event.kind]) {
      if (event[field] === undefined)
        throw new ValidationError(`field "${at}.${field}" is required for ${event.kind} events`);
    }
    for (const field of FORBIDDEN[event.kind]) {
      if (event[field] !== undefined)
        throw new ValidationError(`field "${at}.${field}" is not allowed on ${event.kind} events`);
    }
    return {
      environment_id: environmentId,
      kind: event.kind,
      flag_key: event.flag_key ?? null,
      variation: event.variation ?? null,
      event_key: event.key ?? null,
      value: event.value ?? null,
      data: event.data ?? null,
      context_key: event.context_key,
      occurred_at: occurredAt(event.timestamp, now, at),
      received_at: receivedAt,
    };
  });
}
