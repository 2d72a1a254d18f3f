import type { EntityManager } from '@mikro-orm/postgresql';
import type { TrackedEventKind } from './entity.js';

/**
 * Events from `POST /v1/track`, held in memory and inserted into `tracked_events` in batches,
 * never on the request path. The buffer is bounded: when the database cannot keep up, `add`
 * refuses the batch (the route answers 503) rather than growing without limit.
 */
export interface TrackedEventRow {
  environment_id: string;
  kind: TrackedEventKind;
  flag_key: string | null;
  variation: number | null;
  event_key: string | null;
  value: number | null;
  data: Record<string, unknown> | null;
  context_key: string;
  occurred_at: string;
  received_at: string;
}

const BATCH = 1000;
const MAX_BUFFERED = 100_000;

const INSERT = `insert into tracked_events (environment_id, kind, flag_key, variation, event_key, value, data, context_key, occurred_at, received_at)
  select r.environment_id, r.kind, r.flag_key, r.variation, r.event_key, r.value, r.data, r.context_key, r.occurred_at, r.received_at
  from jsonb_to_recordset(?::jsonb) as r(environment_id uuid, kind text, flag_key text, variation int, event_key text,
       value double precision, data jsonb, context_key text, occurred_at timestamptz, received_at timestamptz)
  where exists (select 1 from environments e where e.id = r.environment_id)`;

export class EventBuffer {
  private rows: TrackedEventRow[] = [];

  get size(): number {
    return this.rows.length;
  }

  /** Buffers a whole batch, or nothing (false) when it would overflow the buffer. */
  add(batch: readonly TrackedEventRow[]): boolean {
    if (this.rows.length + batch.length > MAX_BUFFERED) return false;
    for (const row of batch) this.rows.push(row);
    return true;
  }

  /** Inserts everything buffered so far; rows of a failed batch go back to the front. */
  async flush(em: EntityManager): Promise<void> {
    while (this.rows.length > 0) {
      const batch = this.rows.splice(0, BATCH);
      try {
        await em.execute(INSERT, [JSON.stringify(batch)]);
      } catch (error) {
        this.rows.unshift(...batch);
        throw error;
      }
    }
  }
}
