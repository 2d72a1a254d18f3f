import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../clock.js';
import type { EvaluationResult } from '../../evaluation/index.js';
import { type WriteOutcome, writeInBatches } from './batches.js';

/**
 * Evaluation counts per (environment, flag, variation, minute), kept in memory on the request
 * path and added to `evaluation_counts` in batches. The current minute's counters are nested
 * maps of small arrays (index = variation + 1; 0 counts results without a variation), so a count
 * allocates nothing once a flag has been seen that minute.
 */
type MinuteCounts = Map<string, Map<string, number[]>>;

interface Row {
  environment_id: string;
  flag_key: string;
  variation: number;
  minute: number;
  count: number;
}

const BATCH = 1000;
/** A results array this long is counted by identity (see `repeats`); shorter ones at once. */
const REPEAT_MIN_RESULTS = 8;
/** Distinct arrays held before they are expanded into the counters. */
const REPEATS_MAX = 1024;
/** Bounds on what is kept while the database is unreachable; beyond them the oldest counts are dropped. */
const MAX_PENDING_MINUTES = 60;
const MAX_RETRY_ROWS = 200_000;

// The counts, and beside them when each variation was last served (metrics/usage.ts reads it).
const UPSERT = `with rows as (
    select r.environment_id, r.flag_key, r.variation, to_timestamp(r.minute * 60) as minute, r.count
    from jsonb_to_recordset(?::jsonb) as r(environment_id uuid, flag_key text, variation int, minute bigint, count bigint)
    where exists (select 1 from environments e where e.id = r.environment_id)
  ),
  counted as (
    insert into evaluation_counts (environment_id, flag_key, variation, minute, count)
    select environment_id, flag_key, variation, minute, count from rows
    on conflict (environment_id, flag_key, variation, minute) do update set count = evaluation_counts.count + excluded.count
  )
  insert into evaluation_last_seen (environment_id, flag_key, variation, last_evaluated_at)
  select environment_id, flag_key, variation, max(minute) from rows group by 1, 2, 3
  on conflict (environment_id, flag_key, variation)
  do update set last_evaluated_at = greatest(evaluation_last_seen.last_evaluated_at, excluded.last_evaluated_at)`;

export class EvaluationCounter {
  private minute = -1;
  private current: MinuteCounts = new Map();
  private sealed: { minute: number; counts: MinuteCounts }[] = [];
  private retry: Row[] = [];
  /** Count rows the database refused since start (flag keys come from snapshots, so none should be). */
  dropped = 0;
  /** Results already handed to a flush since start (see `served`). */
  private drained = 0;
  /**
   * Bulk answers of this minute counted by identity: an SDK polling with one context is served the
   * same memoized results array again and again (OFREP bulk), so a repeat costs one map lookup,
   * not one count per flag. Expanded into the counters before anything reads or seals them.
   */
  private repeats = new Map<readonly EvaluationResult[], { env: Map<string, number[]>; times: number }>();

  constructor(private readonly clock: Clock) {}

  /** Counts the results served in one response (unknown flags are not: their keys are caller input). */
  record(environmentId: string, results: readonly EvaluationResult[]): void {
    const env = this.environment(environmentId);
    if (results.length < REPEAT_MIN_RESULTS) {
      for (const result of results) this.add(env, result);
      return;
    }
    const seen = this.repeats.get(results);
    if (seen !== undefined && seen.env === env) {
      seen.times++;
      return;
    }
    if (seen !== undefined || this.repeats.size >= REPEATS_MAX) this.expandRepeats();
    this.repeats.set(results, { env, times: 1 });
  }

  private expandRepeats(): void {
    for (const [results, { env, times }] of this.repeats) for (const result of results) this.add(env, result, times);
    this.repeats.clear();
  }

  recordOne(environmentId: string, result: EvaluationResult): void {
    this.add(this.environment(environmentId), result);
  }

  private environment(environmentId: string): Map<string, number[]> {
    const minute = Math.floor(this.clock.now() / 60_000);
    if (minute !== this.minute) this.rotate(minute);
    let env = this.current.get(environmentId);
    if (env === undefined) {
      env = new Map();
      this.current.set(environmentId, env);
    }
    return env;
  }

  private add(env: Map<string, number[]>, result: EvaluationResult, times = 1): void {
    if (result.errorCode === 'FLAG_NOT_FOUND') return;
    let counts = env.get(result.key);
    if (counts === undefined) {
      counts = [];
      env.set(result.key, counts);
    }
    const slot = result.variation === null ? 0 : result.variation + 1;
    counts[slot] = (counts[slot] ?? 0) + times;
  }

  /**
   * Results counted since start, for the Prometheus scrape: what flushes took, plus what waits
   * in memory. Summed when asked, so the request path does no more than it did.
   */
  get served(): number {
    this.expandRepeats();
    let total = this.drained;
    for (const { counts } of [...this.sealed, { counts: this.current }]) {
      for (const flags of counts.values()) for (const slots of flags.values()) for (const n of slots) total += n ?? 0;
    }
    return total;
  }

  private rotate(minute: number): void {
    this.expandRepeats();
    if (this.current.size > 0) this.sealed.push({ minute: this.minute, counts: this.current });
    if (this.sealed.length > MAX_PENDING_MINUTES) this.sealed.splice(0, this.sealed.length - MAX_PENDING_MINUTES);
    this.current = new Map();
    this.minute = minute;
  }

  private drain(): { minute: number; counts: MinuteCounts }[] {
    this.expandRepeats();
    const all = this.sealed;
    if (this.current.size > 0) all.push({ minute: this.minute, counts: this.current });
    this.sealed = [];
    this.current = new Map();
    return all;
  }

  /**
   * Adds every count so far to the table. A row the database refuses is dropped (counted in
   * `dropped`); when the database fails otherwise, the unwritten counts wait for the next flush.
   */
  async flush(em: EntityManager): Promise<WriteOutcome<Row>> {
    // Aggregated by primary key: one upsert statement may not touch a row twice.
    const byKey = new Map<string, Row>();
    const add = (row: Row) => {
      const id = `${row.environment_id}\n${row.flag_key}\n${row.variation}\n${row.minute}`;
      const seen = byKey.get(id);
      if (seen) seen.count += row.count;
      else byKey.set(id, row);
    };
    for (const row of this.retry) add(row);
    this.retry = [];
    for (const { minute, counts } of this.drain()) {
      for (const [environmentId, flags] of counts) {
        for (const [flagKey, slots] of flags) {
          for (let slot = 0; slot < slots.length; slot++) {
            const count = slots[slot];
            if (!count) continue;
            this.drained += count;
            add({ environment_id: environmentId, flag_key: flagKey, variation: slot - 1, minute, count });
          }
        }
      }
    }
    const outcome = await writeInBatches([...byKey.values()], BATCH, (batch) =>
      em.execute(UPSERT, [JSON.stringify(batch)]),
    );
    this.dropped += outcome.dropped;
    this.retry = outcome.unwritten.slice(0, MAX_RETRY_ROWS);
    return outcome;
  }
}
