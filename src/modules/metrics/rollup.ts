import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Retention by resolution, so the tables stay bounded: evaluation counts and tracked events
 * older than two days are kept per hour, older than 30 days per day. A rolled-up row sits at its
 * bucket's start (UTC) in the same table, so every query reads one table whatever its age (a
 * minute-bucketed query over old data simply finds hour-sized buckets). Tracked events are
 * individual rows for two days, then counts (`tracked_event_counts`). The job queue runs this
 * hourly on one node (plugin.ts); it is idempotent, and works through a backlog a window at a
 * time so that no statement runs long.
 */
export const MINUTES_KEPT_HOURS = 48;
export const HOURS_KEPT_DAYS = 30;
const WINDOW_HOURS = 6;

type Grain = 'hour' | 'day';

// Rows of the window not already at the start of their bucket move into it (the row at the
// start, if any, takes the sum). The delete and the upsert never touch the same row.
const ROLL_COUNTS = (grain: Grain) => `with moved as (
    delete from evaluation_counts
    where minute >= ? and minute < ? and minute <> date_trunc('${grain}', minute, 'UTC')
    returning environment_id, flag_key, variation, minute, count
  )
  insert into evaluation_counts (environment_id, flag_key, variation, minute, count)
  select environment_id, flag_key, variation, date_trunc('${grain}', minute, 'UTC'), sum(count) from moved
  group by 1, 2, 3, 4
  on conflict (environment_id, flag_key, variation, minute) do update set count = evaluation_counts.count + excluded.count`;

const OLDEST_COUNT = (grain: Grain) => `select min(minute) as oldest from evaluation_counts
  where minute < ? and minute <> date_trunc('${grain}', minute, 'UTC')`;

const ROLL_EVENTS = `with moved as (
    delete from tracked_events where occurred_at >= ? and occurred_at < ?
    returning environment_id, kind, flag_key, variation, event_key, value, occurred_at
  )
  insert into tracked_event_counts (environment_id, kind, flag_key, variation, event_key, bucket, count, value_sum)
  select environment_id, kind, coalesce(flag_key, ''), coalesce(variation, -1), coalesce(event_key, ''),
    date_trunc('hour', occurred_at, 'UTC'), count(*), coalesce(sum(value), 0)
  from moved group by 1, 2, 3, 4, 5, 6
  on conflict (environment_id, kind, flag_key, variation, event_key, bucket)
  do update set count = tracked_event_counts.count + excluded.count, value_sum = tracked_event_counts.value_sum + excluded.value_sum`;

const OLDEST_EVENT = 'select min(occurred_at) as oldest from tracked_events where occurred_at < ?';

const ROLL_EVENT_DAYS = `with moved as (
    delete from tracked_event_counts
    where bucket >= ? and bucket < ? and bucket <> date_trunc('day', bucket, 'UTC')
    returning environment_id, kind, flag_key, variation, event_key, bucket, count, value_sum
  )
  insert into tracked_event_counts (environment_id, kind, flag_key, variation, event_key, bucket, count, value_sum)
  select environment_id, kind, flag_key, variation, event_key, date_trunc('day', bucket, 'UTC'), sum(count), sum(value_sum)
  from moved group by 1, 2, 3, 4, 5, 6
  on conflict (environment_id, kind, flag_key, variation, event_key, bucket)
  do update set count = tracked_event_counts.count + excluded.count, value_sum = tracked_event_counts.value_sum + excluded.value_sum`;

const OLDEST_EVENT_HOUR = `select min(bucket) as oldest from tracked_event_counts
  where bucket < ? and bucket <> date_trunc('day', bucket, 'UTC')`;

const HOUR_MS = 3_600_000;

function startOf(grain: Grain, at: number): Date {
  const date = new Date(at);
  if (grain === 'day') date.setUTCHours(0, 0, 0, 0);
  else date.setUTCMinutes(0, 0, 0);
  return date;
}

/** Windows one run works through at most (a year of six-hour windows); the next run goes on. */
const MAX_WINDOWS = 1500;

/** Runs `roll` (one statement) over windows from the oldest row left before `cutoff` up to it. */
async function inWindows(em: EntityManager, oldestQuery: string, cutoff: Date, roll: string): Promise<void> {
  for (let window = 0; window < MAX_WINDOWS; window++) {
    const [row] = await em.execute<{ oldest: Date | string | null }[]>(oldestQuery, [cutoff]);
    if (!row?.oldest) return;
    // From the whole second: a microsecond the driver's Date cannot hold must not leave the oldest row out.
    const from = new Date(Math.floor(new Date(row.oldest).getTime() / 1000) * 1000);
    const to = new Date(Math.min(from.getTime() + WINDOW_HOURS * HOUR_MS, cutoff.getTime()));
    await em.execute(roll, [from, to]);
  }
}

export interface RollupCutoffs {
  /** Minute rows (and raw events) before this become hours. */
  hours: Date;
  /** Hour rows before this become days. */
  days: Date;
}

/** Where the roll-up cuts at time `now`: whole hours two days back, whole days 30 days back. */
export function rollupCutoffs(now: number): RollupCutoffs {
  return {
    hours: startOf('hour', now - MINUTES_KEPT_HOURS * HOUR_MS),
    days: startOf('day', now - HOURS_KEPT_DAYS * 24 * HOUR_MS),
  };
}

export async function rollUpMetrics(em: EntityManager, now: number): Promise<void> {
  const cutoffs = rollupCutoffs(now);
  await inWindows(em, OLDEST_COUNT('hour'), cutoffs.hours, ROLL_COUNTS('hour'));
  await inWindows(em, OLDEST_COUNT('day'), cutoffs.days, ROLL_COUNTS('day'));
  await inWindows(em, OLDEST_EVENT, cutoffs.hours, ROLL_EVENTS);
  await inWindows(em, OLDEST_EVENT_HOUR, cutoffs.days, ROLL_EVENT_DAYS);
}
