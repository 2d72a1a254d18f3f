import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidArray } from '../../db/sql.js';
import { ValidationError } from '../../errors.js';
import type {
  FlagDefinition,
  FlagEnvState,
  FlagKind,
  Problem,
  StateValidationContext,
} from '../../evaluation/index.js';
import { SegmentSchema } from '../segments/entity.js';
import { type Flag, FlagSchema, type FlagState, FlagStateSchema } from './entity.js';

/** Throws the engine's problems as one ValidationError whose message names the first problem. */
export function assertValid(problems: Problem[], prefix = ''): void {
  const first = problems[0];
  if (!first) return;
  const at = (p: Problem) => ({ path: prefix ? `${prefix}.${p.path}` : p.path, message: p.message });
  const shown = at(first);
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new ValidationError(`${shown.path}: ${shown.message}${more}`, { problems: problems.map(at) });
}

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

/**
 * Locks environment rows (in id order, so writers never deadlock) for the rest of the
 * transaction. Every write whose validity depends on other rows of an environment (a
 * prerequisite graph, the segments a rule names) takes these locks first, so two concurrent
 * writes cannot each pass validation and together break it (e.g. close a prerequisite cycle).
 * announceChange updates the same rows at the end, so this only moves the wait earlier.
 */
export async function lockEnvironments(em: EntityManager, environmentIds: readonly string[]): Promise<void> {
  if (environmentIds.length === 0) return;
  await em.execute('select id from environments where id = any(?::uuid[]) order by id for update', [
    uuidArray(environmentIds),
  ]);
}
