import type { EntityManager } from '@mikro-orm/postgresql';
import { textArray } from '../../db/sql.js';
import type { FlagDefinition, FlagEnvState, FlagKind, StateValidationContext } from '../../evaluation/index.js';
import type { Flag, FlagState } from './entity.js';

/** The engine's view of a stored flag. */
export function definitionOf(flag: Flag): FlagDefinition {
  return {
    key: flag.key,
    kind: flag.kind,
    variations: flag.variations,
    clientSideAvailable: flag.clientSideAvailable,
    tags: flag.tags,
    temporary: flag.temporary,
    ...(flag.salt !== null ? { salt: flag.salt } : {}),
  };
}

export function envStateOf(state: FlagState): FlagEnvState {
  return {
    on: state.on,
    offVariation: state.offVariation,
    targets: state.targets,
    rules: state.rules,
    fallthrough: state.fallthrough,
    prerequisites: state.prerequisites,
    version: state.version,
  };
}

/**
 * The state a flag starts with in every environment: off, serving its "off" value. A boolean
 * flag is off on `false` and, once turned on, serves `true` to everyone, which is what someone
 * flipping the switch expects; other kinds serve their first variation both ways, so turning
 * one on changes nothing until targeting is set.
 */
export function defaultState(flag: Pick<Flag, 'kind' | 'variations'>): Omit<FlagEnvState, 'version'> {
  let off = 0;
  let on = 0;
  if (flag.kind === 'boolean') {
    const falseAt = flag.variations.findIndex((v) => v.value === false);
    const trueAt = flag.variations.findIndex((v) => v.value === true);
    off = falseAt >= 0 ? falseAt : flag.variations.length - 1;
    on = Math.max(trueAt, 0);
  }
  return { on: false, offVariation: off, targets: [], rules: [], fallthrough: { variation: on }, prerequisites: [] };
}

interface ReachedFlagRow {
  key: string;
  kind: FlagKind;
  variations_count: number;
  archived: boolean;
  prerequisites: string[] | null;
}

/**
 * What `state`, a flag state of `projectId` in `environmentId`, is validated against, read
 * narrowly (ARCHITECTURE.md, "Cost of a change"): the segments its rules name, and the
 * prerequisite graph reachable from its prerequisites in this environment, archived flags
 * included, so restoring one cannot close a loop. Prerequisites may only name live flags unless
 * `includeArchived` (used when re-checking states that already exist, where only variation
 * ranges are in question). Plain rows, nothing hydrated into the unit of work.
 */
export async function stateValidationContext(
  em: EntityManager,
  projectId: string,
  environmentId: string,
  state: Pick<FlagEnvState, 'rules' | 'prerequisites'>,
  options: { includeArchived?: boolean } = {},
): Promise<StateValidationContext> {
  const segmentKeys = new Set<string>();
  for (const rule of Array.isArray(state.rules) ? state.rules : []) {
    for (const clause of Array.isArray(rule?.clauses) ? rule.clauses : []) {
      if (clause?.op !== 'segmentMatch' || !Array.isArray(clause.values)) continue;
      for (const value of clause.values) if (typeof value === 'string') segmentKeys.add(value);
    }
  }
  const prerequisiteKeys = (Array.isArray(state.prerequisites) ? state.prerequisites : [])
    .map((p) => p?.key)
    .filter((k): k is string => typeof k === 'string');
  // One after the other: inside a transaction they share a single connection anyway.
  const segments: { key: string }[] =
    segmentKeys.size === 0
      ? []
      : await em.execute('select key from segments where project_id = ? and key = any(?::text[])', [
          projectId,
          textArray([...segmentKeys]),
        ]);
  const reached: ReachedFlagRow[] =
    prerequisiteKeys.length === 0
      ? []
      : await em.execute(
          // UNION (not UNION ALL) stops at keys already reached, so a stored cycle ends the walk.
          `with recursive reach(key) as (
             select unnest(?::text[])
             union
             select p.value->>'key'
             from reach r
             join flags f on f.project_id = ? and f.key = r.key
             join flag_states s on s.flag_id = f.id and s.environment_id = ?
             cross join lateral jsonb_array_elements(s.prerequisites) p
           )
           select f.key, f.kind, jsonb_array_length(f.variations) as variations_count,
                  f.archived_at is not null as archived,
                  (select array_agg(p.value->>'key') from jsonb_array_elements(s.prerequisites) p) as prerequisites
           from reach r
           join flags f on f.project_id = ? and f.key = r.key
           left join flag_states s on s.flag_id = f.id and s.environment_id = ?`,
          [textArray(prerequisiteKeys), projectId, environmentId, projectId, environmentId],
        );
  const flags = new Map<string, { kind: FlagKind; variationsCount: number }>();
  const prerequisiteGraph = new Map<string, string[]>();
  for (const row of reached) {
    if (!row.archived || options.includeArchived)
      flags.set(row.key, { kind: row.kind, variationsCount: Number(row.variations_count) });
    prerequisiteGraph.set(row.key, row.prerequisites ?? []);
  }
  return { segmentKeys: new Set(segments.map((s) => s.key)), flags, prerequisiteGraph };
}
