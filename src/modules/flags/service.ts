import { randomUUID } from 'node:crypto';
import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { changeActor, type ManagementPrincipal } from '../../auth/principal.js';
import type { Page, PageArgs } from '../../common/pagination.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import {
  type FlagKind,
  type Problem,
  type Variation,
  validateFlagDefinition,
  validateFlagState,
} from '../../evaluation/index.js';
import { announceChange, type ChangeKind } from '../../realtime/changes.js';
import { recordAudit } from '../audit/service.js';
import { lastEvaluatedInProject } from '../metrics/usage.js';
import type { PendingChange, PendingChangeKind } from '../pending/entity.js';
import { answerWith, approvalDetails, type ChangeOptions, gateChange } from '../pending/service.js';
import type { Project } from '../projects/entity.js';
import { getProject, listEnvironments, lockEnvironments } from '../projects/service.js';
import { assertKey, assertName } from '../slug.js';
import { assertValid } from '../targeting/validation.js';
import { type Flag, FlagSchema, FlagStateSchema } from './entity.js';
import { flagPage } from './reads.js';
import { defaultState, definitionOf, envStateOf, stateValidationContext } from './validation.js';

const MAX_TAGS = 50;
const MAX_TAG_LENGTH = 64;

export interface FlagListArgs extends PageArgs {
  tag?: string | null;
  /** true: archived flags only; false: live flags only; null/undefined: both. */
  archived?: boolean | null;
  /** Case-insensitive substring of the key, name or description. */
  search?: string | null;
}

export interface CreateFlagInput {
  key: string;
  name?: string | null;
  description?: string | null;
  kind: FlagKind;
  variations?: Variation[] | null;
  tags?: string[] | null;
  clientSideAvailable?: boolean | null;
  temporary?: boolean | null;
}

export interface UpdateFlagInput {
  name?: string | null;
  description?: string | null;
  tags?: string[] | null;
  variations?: Variation[] | null;
  clientSideAvailable?: boolean | null;
  temporary?: boolean | null;
}

/** Bumps every environment of `project` and announces a change of `flagKey`. */
export async function announceFlagChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  project: Project,
  kind: ChangeKind,
  flagKey: string,
) {
  const environments = await listEnvironments(em, project);
  await announceChange(em, {
    environmentIds: environments.map((e) => e.id),
    kind,
    flagKeys: [flagKey],
    actor: changeActor(actor),
  });
}

function normalizeTags(tags: string[]): string[] {
  const out = [...new Set(tags.map((t) => t.trim()))];
  if (out.length > MAX_TAGS) throw new ValidationError(`at most ${MAX_TAGS} tags`);
  for (const tag of out) {
    if (!tag || tag.length > MAX_TAG_LENGTH) throw new ValidationError(`tags must be 1-${MAX_TAG_LENGTH} characters`);
  }
  return out;
}

/** What updateFlag may change, as the audit entry's before and after. */
const definitionFields = (flag: Flag) => ({
  name: flag.name,
  description: flag.description,
  tags: [...flag.tags],
  variations: structuredClone(flag.variations),
  clientSideAvailable: flag.clientSideAvailable,
  temporary: flag.temporary,
});

export async function listFlags(em: EntityManager, project: Project, args: FlagListArgs): Promise<Page<Flag>> {
  return flagPage(em, project, args);
}

export async function getFlag(em: EntityManager, actor: ManagementPrincipal, id: string): Promise<Flag> {
  const flag = await em.findOne(
    FlagSchema,
    { id, project: { organization: actor.organizationId } },
    { populate: ['project'] },
  );
  if (!flag) throw new NotFoundError('flag');
  return flag;
}

export async function getFlagByKey(em: EntityManager, project: Project, key: string): Promise<Flag> {
  const flag = await em.findOne(FlagSchema, { project, key }, { populate: ['project'] });
  if (!flag) throw new NotFoundError(`flag "${key}"`);
  return flag;
}

/** How a caller names a flag: by id, or by project id and key (exactly one way). */
export interface FlagRef {
  flagId?: string | null;
  projectId?: string | null;
  flagKey?: string | null;
}

/** A flag by id, or by project id and key (exactly one way). */
export async function findFlag(em: EntityManager, actor: ManagementPrincipal, by: FlagRef): Promise<Flag> {
  if (by.flagId) {
    if (by.projectId || by.flagKey) throw new ValidationError('give either flagId or projectId and flagKey');
    return getFlag(em, actor, by.flagId);
  }
  if (!by.projectId || !by.flagKey) throw new ValidationError('give either flagId or projectId and flagKey');
  return getFlagByKey(em, await getProject(em, actor, { id: by.projectId }), by.flagKey);
}

export async function createFlag(
  em: EntityManager,
  actor: ManagementPrincipal,
  projectId: string,
  input: CreateFlagInput,
): Promise<Flag> {
  const key = assertKey(input.key, 'key');
  const name = assertName(input.name ?? key, 'name');
  // A boolean flag without explicit variations gets the obvious pair.
  const variations = input.variations ?? (input.kind === 'boolean' ? [{ value: true }, { value: false }] : []);
  const fields = {
    key,
    name,
    description: input.description ?? '',
    kind: input.kind,
    variations,
    tags: normalizeTags(input.tags ?? []),
    clientSideAvailable: input.clientSideAvailable ?? false,
    temporary: input.temporary ?? true,
  };
  assertValid(validateFlagDefinition({ ...fields }));
  return em.transactional(async (tx) => {
    const project = await getProject(tx, actor, { id: projectId });
    const now = new Date();
    const flag = tx.create(FlagSchema, {
      id: randomUUID(),
      project,
      ...fields,
      salt: null,
      archivedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    const environments = await listEnvironments(tx, project);
    for (const environment of environments) {
      tx.create(FlagStateSchema, {
        id: randomUUID(),
        flag,
        environment,
        ...defaultState(flag),
        version: 1,
        updatedAt: now,
      });
    }
    try {
      await tx.flush();
    } catch (e) {
      if (e instanceof UniqueConstraintViolationException)
        throw new ConflictError(`a flag with key "${key}" already exists in this project`);
      throw e;
    }
    recordAudit(tx, actor, {
      action: 'flag.created',
      resourceType: 'flag',
      resourceId: flag.id,
      projectId: project.id,
      details: { key, kind: flag.kind },
    });
    await announceChange(tx, {
      environmentIds: environments.map((e) => e.id),
      kind: 'flag.created',
      flagKeys: [key],
      actor: changeActor(actor),
    });
    return flag;
  });
}

/**
 * New variations must fit every environment's targeting of this flag and every prerequisite
 * other flags place on it; otherwise nothing is written.
 */
async function revalidateStates(em: EntityManager, flag: Flag): Promise<void> {
  const problems: Problem[] = [];
  const definition = definitionOf(flag);
  const states = await em.find(
    FlagStateSchema,
    { flag: { project: flag.project } },
    { populate: ['flag', 'environment'] },
  );
  for (const state of states) {
    const at = `environments.${state.environment.key}`;
    if (state.flag.id === flag.id) {
      const context = await stateValidationContext(em, flag.project.id, state.environment.id, state, {
        includeArchived: true,
      });
      for (const p of validateFlagState(definition, envStateOf(state), context))
        problems.push({ path: `${at}.${p.path}`, message: p.message });
      continue;
    }
    state.prerequisites.forEach((p, i) => {
      if (p.key === flag.key && p.variation >= flag.variations.length) {
        problems.push({
          path: `${at}.flags.${state.flag.key}.prerequisites[${i}].variation`,
          message: `flag "${state.flag.key}" requires variation ${p.variation} of this flag`,
        });
      }
    });
  }
  assertValid(problems);
}

export async function updateFlag(
  em: EntityManager,
  actor: ManagementPrincipal,
  by: FlagRef,
  input: UpdateFlagInput,
): Promise<Flag> {
  return em.transactional(async (tx) => {
    const flag = await findFlag(tx, actor, by);
    const before = definitionFields(flag);
    if (input.name != null) flag.name = assertName(input.name, 'name');
    if (input.description != null) flag.description = input.description;
    if (input.tags != null) flag.tags = normalizeTags(input.tags);
    if (input.clientSideAvailable != null) flag.clientSideAvailable = input.clientSideAvailable;
    if (input.temporary != null) flag.temporary = input.temporary;
    if (input.variations != null) flag.variations = input.variations;
    assertValid(validateFlagDefinition(definitionOf(flag)));
    if (input.variations != null) {
      await lockEnvironments(
        tx,
        (await listEnvironments(tx, flag.project)).map((e) => e.id),
      );
      await revalidateStates(tx, flag);
    }
    recordAudit(tx, actor, {
      action: 'flag.updated',
      resourceType: 'flag',
      resourceId: flag.id,
      projectId: flag.project.id,
      details: { key: flag.key, before, after: definitionFields(flag) },
    });
    await announceFlagChange(tx, actor, flag.project, 'flag.updated', flag.key);
    return flag;
  });
}

/**
 * Archiving, restoring and deleting a live flag reach every environment of its project: where one
 * requires approval they wait as a pending change, made against the flag's state everywhere.
 */
async function gateLifecycle(
  em: EntityManager,
  actor: ManagementPrincipal,
  flag: Flag,
  kind: Extract<PendingChangeKind, 'flag.archive' | 'flag.restore' | 'flag.delete'>,
  options: ChangeOptions,
): Promise<PendingChange | null> {
  if (options.approved) return null;
  const states = await em.find(FlagStateSchema, { flag }, { populate: ['environment'] });
  return gateChange(
    em,
    actor,
    {
      kind,
      projectId: flag.project.id,
      environments: states.map((s) => s.environment),
      flag,
      base: Object.fromEntries(states.map((s) => [s.environment.id, s.version])),
      before: { archived: flag.archivedAt !== null },
      proposed: kind === 'flag.delete' ? { deleted: true } : { archived: kind === 'flag.archive' },
    },
    options,
  );
}

/** How recent an evaluation makes archiving or deleting a flag ask for `force`. */
const RECENTLY_EVALUATED_MS = 3_600_000;

/** A flag evaluated in the last hour is still read by someone's code: removing it takes `force`. */
async function assertNotInUse(em: EntityManager, flag: Flag, force: boolean, what: string): Promise<void> {
  if (force) return;
  const last = await lastEvaluatedInProject(em, flag.project.id, flag.key);
  if (last && Date.now() - last.getTime() < RECENTLY_EVALUATED_MS) {
    throw new ConflictError(
      `flag "${flag.key}" was evaluated within the last hour (at ${last.toISOString()}): pass force: true to ${what} it anyway`,
      { lastEvaluatedAt: last.toISOString() },
    );
  }
}

/** Archived flags leave every environment's snapshot but keep their targeting for a restore. */
export async function archiveFlag(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  archived: boolean,
  options: ChangeOptions & { force?: boolean } = {},
): Promise<Flag> {
  return em.transactional(async (tx) => {
    const flag = await getFlag(tx, actor, id);
    if ((flag.archivedAt !== null) === archived) return flag;
    if (archived && !options.approved) await assertNotInUse(tx, flag, options.force ?? false, 'archive');
    const pending = await gateLifecycle(tx, actor, flag, archived ? 'flag.archive' : 'flag.restore', options);
    if (pending) return answerWith(flag, pending);
    flag.archivedAt = archived ? new Date() : null;
    const action = archived ? 'flag.archived' : 'flag.restored';
    recordAudit(tx, actor, {
      action,
      resourceType: 'flag',
      resourceId: id,
      projectId: flag.project.id,
      details: {
        key: flag.key,
        before: { archived: !archived },
        after: { archived },
        ...approvalDetails(options),
      },
    });
    await announceFlagChange(tx, actor, flag.project, action, flag.key);
    return flag;
  });
}

/** Keys of the other flags of the project whose targeting (in any environment) names `flag` as a prerequisite. */
export async function flagsRequiring(em: EntityManager, flag: Flag): Promise<string[]> {
  const rows: { key: string }[] = await em.execute(
    `select distinct f.key from flag_states s join flags f on f.id = s.flag_id
     where f.project_id = ? and f.id <> ? and s.prerequisites @> ?::jsonb order by f.key`,
    [flag.project.id, flag.id, JSON.stringify([{ key: flag.key }])],
  );
  return rows.map((r) => r.key);
}

export async function deleteFlag(
  em: EntityManager,
  actor: ManagementPrincipal,
  by: FlagRef,
  options: ChangeOptions & { force?: boolean } = {},
): Promise<Flag> {
  return em.transactional(async (tx) => {
    const flag = await findFlag(tx, actor, by);
    if (!options.approved) await assertNotInUse(tx, flag, options.force ?? false, 'delete');
    // An archived flag evaluates nowhere: deleting it changes no environment.
    const pending = flag.archivedAt === null ? await gateLifecycle(tx, actor, flag, 'flag.delete', options) : null;
    if (pending) return answerWith(flag, pending);
    await lockEnvironments(
      tx,
      (await listEnvironments(tx, flag.project)).map((e) => e.id),
    );
    const dependents = await flagsRequiring(tx, flag);
    if (dependents.length > 0) {
      throw new ConflictError(
        `flag "${flag.key}" is a prerequisite of ${dependents.map((k) => `"${k}"`).join(', ')}; remove it there first`,
        { flags: dependents },
      );
    }
    recordAudit(tx, actor, {
      action: 'flag.deleted',
      resourceType: 'flag',
      resourceId: flag.id,
      projectId: flag.project.id,
      details: { key: flag.key, ...approvalDetails(options) },
    });
    await announceFlagChange(tx, actor, flag.project, 'flag.deleted', flag.key);
    tx.remove(flag);
    return flag;
  });
}
