import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { uuidArray } from '../../db/sql.js';

/**
 * When flags were last evaluated, read from `evaluation_last_seen` (kept by every flush of the
 * counts, metrics/counts.ts): per flag and environment, per flag across its project, and the
 * variations a project's flags served since a time (stale flags). Times are the start of the
 * minute of the latest evaluation written so far (counts are flushed every few seconds).
 */

/** Project id + flag key → the latest evaluation in any of the project's environments. */
const byProjectLoaders = new WeakMap<EntityManager, DataLoader<string, Date | null>>();
/** Environment id + flag key → the latest evaluation there. */
const byEnvironmentLoaders = new WeakMap<EntityManager, DataLoader<string, Date | null>>();

const pairKey = (a: string, b: string) => `${a}\n${b}`;

function pairs(keys: readonly string[]): { firsts: string[]; seconds: string[] } {
  const firsts = new Set<string>();
  const seconds = new Set<string>();
  for (const key of keys) {
    const cut = key.indexOf('\n');
    firsts.add(key.slice(0, cut));
    seconds.add(key.slice(cut + 1));
  }
  return { firsts: [...firsts], seconds: [...seconds] };
}

function loader(
  cache: WeakMap<EntityManager, DataLoader<string, Date | null>>,
  em: EntityManager,
  query: string,
): DataLoader<string, Date | null> {
  let found = cache.get(em);
  if (!found) {
    found = new DataLoader(
      async (keys: readonly string[]) => {
        const { firsts, seconds } = pairs(keys);
        const rows: { a: string; flag_key: string; last: Date | string }[] = await em.execute(query, [
          uuidArray(firsts),
          JSON.stringify(seconds),
        ]);
        const byKey = new Map(rows.map((r) => [pairKey(r.a, r.flag_key), new Date(r.last)]));
        return keys.map((k) => byKey.get(k) ?? null);
      },
      { cache: false },
    );
    cache.set(em, found);
  }
  return found;
}

const BY_PROJECT = `select e.project_id as a, s.flag_key, max(s.last_evaluated_at) as last
  from evaluation_last_seen s join environments e on e.id = s.environment_id
  where e.project_id = any(?::uuid[]) and s.flag_key in (select jsonb_array_elements_text(?::jsonb)) group by 1, 2`;

const BY_ENVIRONMENT = `select s.environment_id as a, s.flag_key, max(s.last_evaluated_at) as last
  from evaluation_last_seen s
  where s.environment_id = any(?::uuid[]) and s.flag_key in (select jsonb_array_elements_text(?::jsonb)) group by 1, 2`;

/** The latest evaluation of `flagKey` in any environment of `projectId` (batched per unit of work). */
export function lastEvaluatedInProject(em: EntityManager, projectId: string, flagKey: string): Promise<Date | null> {
  return loader(byProjectLoaders, em, BY_PROJECT).load(pairKey(projectId, flagKey));
}

/** The latest evaluation of `flagKey` in `environmentId` (batched per unit of work). */
export function lastEvaluatedIn(em: EntityManager, environmentId: string, flagKey: string): Promise<Date | null> {
  return loader(byEnvironmentLoaders, em, BY_ENVIRONMENT).load(pairKey(environmentId, flagKey));
}

export interface FlagUsage {
  lastEvaluatedAt: Date;
  /** The variations served since the time asked about, in any environment (errors without one not counted). */
  variationsSince: number[];
}

/** For each flag key of the project that was ever evaluated: when last, and which variations since `since`. */
export async function flagUsageSince(
  em: EntityManager,
  projectId: string,
  since: Date,
): Promise<Map<string, FlagUsage>> {
  const rows: { flag_key: string; last: Date | string; variations: number[] | null }[] = await em.execute(
    `select s.flag_key, max(s.last_evaluated_at) as last,
       array_agg(distinct s.variation) filter (where s.variation >= 0 and s.last_evaluated_at >= ?) as variations
     from evaluation_last_seen s join environments e on e.id = s.environment_id
     where e.project_id = ? group by s.flag_key`,
    [since, projectId],
  );
  return new Map(
    rows.map((r) => [
      r.flag_key,
      { lastEvaluatedAt: new Date(r.last), variationsSince: (r.variations ?? []).map(Number) },
    ]),
  );
}
