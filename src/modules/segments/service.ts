import { randomUUID } from 'node:crypto';
import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { changeActor, type ManagementPrincipal } from '../../auth/principal.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import { type Clause, validateSegment } from '../../evaluation/index.js';
import { announceChange, type ChangeKind } from '../../realtime/changes.js';
import { recordAudit } from '../audit/service.js';
import type { PendingChange } from '../pending/entity.js';
import { answerWith, approvalDetails, type ChangeOptions, gateChange } from '../pending/service.js';
import { EnvironmentSchema, type Project } from '../projects/entity.js';
import { getProject, listEnvironments, lockEnvironments } from '../projects/service.js';
import { assertKey, assertName } from '../slug.js';
import { assertValid } from '../targeting/validation.js';
import { type Segment, SegmentSchema } from './entity.js';

/** A segment rule as a client sends it: the id is kept when given and generated when omitted. */
export interface SegmentRuleChange {
  id?: string | null;
  clauses: Clause[];
}

export interface CreateSegmentInput {
  key: string;
  name?: string | null;
  description?: string | null;
  included?: string[] | null;
  excluded?: string[] | null;
  rules?: SegmentRuleChange[] | null;
}

export type UpdateSegmentInput = Omit<CreateSegmentInput, 'key'>;

const withRuleIds = (rules: SegmentRuleChange[]) => rules.map((r) => ({ ...r, id: r.id ?? randomUUID() }));

function assertValidSegment(segment: Segment): void {
  assertValid(
    validateSegment({ key: segment.key, included: segment.included, excluded: segment.excluded, rules: segment.rules }),
  );
}

/** Segments are shared by every environment of their project, so each change reaches all of them. */
async function announceSegmentChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  project: Project,
  kind: ChangeKind,
  key: string,
) {
  const environments = await listEnvironments(em, project);
  await announceChange(em, {
    environmentIds: environments.map((e) => e.id),
    kind,
    segmentKeys: [key],
    actor: changeActor(actor),
  });
}

export async function listSegments(em: EntityManager, project: Project, args: PageArgs): Promise<Page<Segment>> {
  const window = pageWindow(args);
  const [rows, total] = await em.findAndCount(SegmentSchema, { project }, { orderBy: { key: 'asc' }, ...window });
  return toPage(rows, total, window);
}

export async function getSegmentByKey(em: EntityManager, project: Project, key: string): Promise<Segment> {
  const segment = await em.findOne(SegmentSchema, { project, key });
  if (!segment) throw new NotFoundError(`segment "${key}"`);
  return segment;
}

export async function getSegment(em: EntityManager, actor: ManagementPrincipal, id: string): Promise<Segment> {
  const segment = await em.findOne(
    SegmentSchema,
    { id, project: { organization: actor.organizationId } },
    { populate: ['project'] },
  );
  if (!segment) throw new NotFoundError('segment');
  return segment;
}

/** How a caller names a segment: by id, or by project id and key (exactly one way). */
export interface SegmentRef {
  segmentId?: string | null;
  projectId?: string | null;
  key?: string | null;
}

export async function findSegment(em: EntityManager, actor: ManagementPrincipal, by: SegmentRef): Promise<Segment> {
  if (by.segmentId) {
    if (by.projectId || by.key) throw new ValidationError('give either id or projectId and key');
    return getSegment(em, actor, by.segmentId);
  }
  if (!by.projectId || !by.key) throw new ValidationError('give either id or projectId and key');
  return getSegmentByKey(em, await getProject(em, actor, { id: by.projectId }), by.key);
}

export async function createSegment(
  em: EntityManager,
  actor: ManagementPrincipal,
  projectId: string,
  input: CreateSegmentInput,
): Promise<Segment> {
  const key = assertKey(input.key, 'key');
  const name = assertName(input.name ?? key, 'name');
  return em.transactional(async (tx) => {
    const project = await getProject(tx, actor, { id: projectId });
    const now = new Date();
    const segment = tx.create(SegmentSchema, {
      id: randomUUID(),
      project,
      key,
      name,
      description: input.description ?? '',
      included: input.included ?? [],
      excluded: input.excluded ?? [],
      rules: withRuleIds(input.rules ?? []),
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
    assertValidSegment(segment);
    try {
      await tx.flush();
    } catch (e) {
      if (e instanceof UniqueConstraintViolationException)
        throw new ConflictError(`a segment with key "${key}" already exists in this project`);
      throw e;
    }
    recordAudit(tx, actor, {
      action: 'segment.created',
      resourceType: 'segment',
      resourceId: segment.id,
      projectId: project.id,
      details: { key },
    });
    await announceSegmentChange(tx, actor, project, 'segment.created', key);
    return segment;
  });
}

/** What a segment is, as an update's before and after (and a pending change's proposal). */
const contentOf = (segment: Segment) => ({
  name: segment.name,
  description: segment.description,
  included: [...segment.included],
  excluded: [...segment.excluded],
  rules: structuredClone(segment.rules),
});

/**
 * A segment's audience reaches every environment where a live flag's rules match on it: where one
 * of those requires approval, the (validated) update waits as a pending change.
 */
async function gateSegmentUpdate(
  em: EntityManager,
  actor: ManagementPrincipal,
  segment: Segment,
  before: ReturnType<typeof contentOf>,
  after: ReturnType<typeof contentOf>,
  options: ChangeOptions,
): Promise<PendingChange | null> {
  if (options.approved) return null;
  const audience = ['included', 'excluded', 'rules'] as const;
  if (!options.request && audience.every((k) => JSON.stringify(before[k]) === JSON.stringify(after[k]))) return null;
  const pattern = JSON.stringify([{ clauses: [{ op: 'segmentMatch', values: [segment.key] }] }]);
  const rows: { environment_id: string }[] = await em.execute(
    `select distinct s.environment_id from flag_states s join flags f on f.id = s.flag_id
     where f.project_id = ? and f.archived_at is null and s.rules @> ?::jsonb`,
    [segment.project.id, pattern],
  );
  const environments = await em.find(EnvironmentSchema, { id: { $in: rows.map((r) => r.environment_id) } });
  return gateChange(
    em,
    actor,
    {
      kind: 'segment.update',
      projectId: segment.project.id,
      environments,
      segment,
      base: { segment: segment.version },
      before,
      proposed: after,
    },
    options,
  );
}

export async function updateSegment(
  em: EntityManager,
  actor: ManagementPrincipal,
  by: SegmentRef,
  input: UpdateSegmentInput,
  expectedVersion?: number | null,
  options: ChangeOptions = {},
): Promise<Segment> {
  return em.transactional(async (tx) => {
    const segment = await findSegment(tx, actor, by);
    if (expectedVersion != null && segment.version !== expectedVersion) {
      throw new ConflictError(
        `segment "${segment.key}" is at version ${segment.version}, not ${expectedVersion}: reload and retry`,
        {
          currentVersion: segment.version,
        },
      );
    }
    const before = contentOf(segment);
    const after = {
      ...before,
      ...(input.name != null ? { name: assertName(input.name, 'name') } : {}),
      ...(input.description != null ? { description: input.description } : {}),
      ...(input.included != null ? { included: input.included } : {}),
      ...(input.excluded != null ? { excluded: input.excluded } : {}),
      ...(input.rules != null ? { rules: withRuleIds(input.rules) } : {}),
    };
    assertValidSegment({ ...segment, ...after });
    // Nothing of the segment is written when it waits: the proposal lives in the pending change.
    const pending = await gateSegmentUpdate(tx, actor, segment, before, after, options);
    if (pending) return answerWith(segment, pending);
    Object.assign(segment, after);
    segment.version += 1;
    recordAudit(tx, actor, {
      action: 'segment.updated',
      resourceType: 'segment',
      resourceId: segment.id,
      projectId: segment.project.id,
      details: { key: segment.key, before, after: contentOf(segment), ...approvalDetails(options) },
    });
    await announceSegmentChange(tx, actor, segment.project, 'segment.updated', segment.key);
    return segment;
  });
}

/** Keys of the flags whose targeting (in any environment) has a segmentMatch clause naming `segment`. */
export async function flagsUsingSegment(em: EntityManager, segment: Segment): Promise<string[]> {
  // jsonb containment: some rule has some clause with op segmentMatch whose values include the key.
  const pattern = JSON.stringify([{ clauses: [{ op: 'segmentMatch', values: [segment.key] }] }]);
  const rows: { key: string }[] = await em.execute(
    `select distinct f.key from flag_states s join flags f on f.id = s.flag_id
     where f.project_id = ? and s.rules @> ?::jsonb order by f.key`,
    [segment.project.id, pattern],
  );
  return rows.map((r) => r.key);
}

export async function deleteSegment(em: EntityManager, actor: ManagementPrincipal, by: SegmentRef): Promise<Segment> {
  return em.transactional(async (tx) => {
    const segment = await findSegment(tx, actor, by);
    await lockEnvironments(
      tx,
      (await listEnvironments(tx, segment.project)).map((e) => e.id),
    );
    const flags = await flagsUsingSegment(tx, segment);
    if (flags.length > 0) {
      throw new ConflictError(
        `segment "${segment.key}" is used by flag${flags.length > 1 ? 's' : ''} ${flags.map((k) => `"${k}"`).join(', ')}; remove it from their rules first`,
        { flags },
      );
    }
    recordAudit(tx, actor, {
      action: 'segment.deleted',
      resourceType: 'segment',
      resourceId: segment.id,
      projectId: segment.project.id,
      details: { key: segment.key },
    });
    await announceSegmentChange(tx, actor, segment.project, 'segment.deleted', segment.key);
    tx.remove(segment);
    return segment;
  });
}
