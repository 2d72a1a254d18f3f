import type { EntityManager } from '@mikro-orm/postgresql';
import type { FlagDefinition, FlagEnvState, FlagKind, StateValidationContext } from '../../evaluation/index.js';
import { SegmentSchema } from '../segments/entity.js';
import { type Flag, FlagSchema, type FlagState, FlagStateSchema } from './entity.js';

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

/**
 * What a flag state of `projectId` in `environmentId` is validated against. Prerequisites may
 * only name live (non-archived) flags unless `includeArchived` (used when re-checking states
 * that already exist, where only variation ranges are in question). The cycle check follows the
 * edges of every flag of the environment, archived ones too, so restoring one cannot close a loop.
 */
export async function stateValidationContext(
  em: EntityManager,
  projectId: string,
  environmentId: string,
  options: { includeArchived?: boolean } = {},
): Promise<StateValidationContext> {
  // One after the other: inside a transaction they share a single connection anyway.
  const segments = await em.find(SegmentSchema, { project: projectId }, { fields: ['key'] });
  const flags = await em.find(FlagSchema, { project: projectId });
  const states = await em.find(FlagStateSchema, { environment: environmentId, flag: { project: projectId } });
  const flagMap = new Map<string, { kind: FlagKind; variationsCount: number }>();
  const keyOf = new Map<string, string>();
  for (const flag of flags) {
    keyOf.set(flag.id, flag.key);
    if (flag.archivedAt === null || options.includeArchived)
      flagMap.set(flag.key, { kind: flag.kind, variationsCount: flag.variations.length });
  }
  const prerequisiteGraph = new Map<string, string[]>();
  for (const state of states) {
    const key = keyOf.get(state.flag.id);
    if (key !== undefined)
      prerequisiteGraph.set(
        key,
        state.prerequisites.map((p) => p.key),
      );
  }
  return { segmentKeys: new Set(segments.map((s) => s.key)), flags: flagMap, prerequisiteGraph };
}
