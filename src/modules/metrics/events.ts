import type { EntityManager } from '@mikro-orm/postgresql';
import { type WriteOutcome, writeInBatches } from './batches.js';
import type { TrackedEventKind } from './entity.js';

/**
 * Events from `POST /v1/track`, held in memory and inserted into `tracked_events` in batches,
 * never on the request path. The buffer is bounded: when the database cannot keep up, `add`
 * refuses the batch (the route answers 503) rather than growing without limit. The door
 * (sdk/track.ts) admits only storable rows; a row the database refuses all the same is dropped
 * alone (batches.ts), never blocking the rest.
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
const MAX_BUFFERED_EVENTS = 100_000;

const INSERT = `insert into tracked_events (environment_id, kind, flag_key, variation, event_key, value, data, context_key, occurred_at, received_at)
  select r.environment_id, r.kind, r.flag_key, r.variation, r.event_key, r.value, r.data, r.context_key, r.occurred_at, r.received_at
  from jsonb_to_recordset(?::jsonb) as r(environment_id uuid, kind text, flag_key text, variation int, event_key text,
       value double precision, data jsonb, context_key text, occurred_at timestamptz, received_at timestamptz)
  where exists (select 1 from environments e where e.id = r.environment_id)`;

export class EventBuffer {
  private rows: TrackedEventRow[] = [];
  /** Rows taken by the flush under way (still counted against the bound). */
  private inFlight = 0;
  /** Rows the database refused since start, dropped so that they block nothing else. */
  dropped = 0;

  get size(): number {
    return this.rows.length + this.inFlight;
  }

  /** Buffers a whole batch, or nothing (false) when it would overflow the buffer. */
  add(batch: readonly TrackedEventRow[]): boolean {
    if (this.size + batch.length > MAX_BUFFERED_EVENTS) return false;
    for (const row of batch) this.rows.push(row);
    return true;
  }

  /**
   * Inserts everything buffered so far. A row the database refuses is dropped (counted in
   * `dropped`); when the database fails otherwise, the rows not written go back to the front.
   */
  async flush(em: EntityManager): Promise<WriteOutcome<TrackedEventRow>> {
    const rows = this.rows;
    this.rows = [];
    this.inFlight = rows.length;
    try {
      const outcome = await writeInBatches(rows, BATCH, (batch) => em.execute(INSERT, [JSON.stringify(batch)]));
      this.dropped += outcome.dropped;
      if (outcome.unwritten.length > 0) this.rows = outcome.unwritten.concat(this.rows);
      return outcome;
    } finally {
      this.inFlight = 0;
    }
  }
}
