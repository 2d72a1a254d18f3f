import { randomUUID } from 'node:crypto';
import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { changeActor, type ManagementPrincipal } from '../../auth/principal.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { uuidArray } from '../../db/sql.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import { announceChange } from '../../realtime/changes.js';
import type { Organization } from '../accounts/entity.js';
import { recordAudit } from '../audit/service.js';
import { assertKey, assertName, slugify } from '../slug.js';
import { type Environment, EnvironmentSchema, type Project, ProjectSchema } from './entity.js';

export const DEFAULT_ENVIRONMENTS = [
  { key: 'dev', name: 'Development', color: '#3b82f6' },
  { key: 'staging', name: 'Staging', color: '#f59e0b' },
  { key: 'production', name: 'Production', color: '#ef4444' },
] as const;

/**
 * What other modules put in place when an environment is born, in its transaction: the flags'
 * states there (flags), its client-side ID (keys). Passed in by the caller, as app.ts wires them
 * (`environmentProvisioners`), so this module knows none of them.
 */
export type EnvironmentProvisioner = (em: EntityManager, environment: Environment) => void | Promise<void>;

async function addEnvironment(
  em: EntityManager,
  project: Project,
  input: { key: string; name: string; color?: string | null },
  sortOrder: number,
  provisioners: readonly EnvironmentProvisioner[],
): Promise<Environment> {
  const environment = em.create(EnvironmentSchema, {
    id: randomUUID(),
    project,
    key: input.key,
    name: input.name,
    color: input.color ?? null,
    sortOrder,
    version: 1,
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  for (const provision of provisioners) await provision(em, environment);
  return environment;
}

/** Creates a project with its dev, staging and production environments, in the caller's transaction. */
export async function addProject(
  em: EntityManager,
  organization: Organization,
  input: { name: string; slug: string; description?: string },
  provisioners: readonly EnvironmentProvisioner[],
): Promise<Project> {
  const project = em.create(ProjectSchema, {
    id: randomUUID(),
    organization,
    name: input.name,
    slug: input.slug,
    description: input.description ?? '',
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  let order = 0;
  for (const env of DEFAULT_ENVIRONMENTS) await addEnvironment(em, project, env, order++, provisioners);
  return project;
}

function assertColor(color: string | null | undefined): void {
  if (color != null && !/^#[0-9a-fA-F]{6}$/.test(color))
    throw new ValidationError('color must be a #rrggbb hex colour');
}

async function flushUnique<T>(em: EntityManager, what: string, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    await em.flush();
    return result;
  } catch (e) {
    if (e instanceof UniqueConstraintViolationException) throw new ConflictError(`${what} already exists`);
    throw e;
  }
}

export async function listProjects(
  em: EntityManager,
  actor: ManagementPrincipal,
  args: PageArgs,
): Promise<Page<Project>> {
  const window = pageWindow(args);
  const [rows, total] = await em.findAndCount(
    ProjectSchema,
    { organization: actor.organizationId },
    { orderBy: { createdAt: 'asc', id: 'asc' }, ...window },
  );
  return toPage(rows, total, window);
}

export async function getProject(
  em: EntityManager,
  actor: ManagementPrincipal,
  by: { id?: string | null; slug?: string | null },
): Promise<Project> {
  if (!by.id === !by.slug) throw new ValidationError('give exactly one of id or slug');
  const project = await em.findOne(ProjectSchema, {
    organization: actor.organizationId,
    ...(by.id ? { id: by.id } : { slug: by.slug! }),
  });
  if (!project) throw new NotFoundError('project');
  return project;
}

export async function createProject(
  em: EntityManager,
  actor: ManagementPrincipal,
  input: { name: string; slug?: string | null; description?: string | null },
  provisioners: readonly EnvironmentProvisioner[],
): Promise<Project> {
  const name = assertName(input.name, 'name');
  const slug = assertKey(input.slug ?? slugify(name), 'slug');
  return em.transactional((tx) =>
    flushUnique(tx, `a project with slug "${slug}"`, async () => {
      const organization = tx.getReference<Organization>('Organization', actor.organizationId);
      const project = await addProject(
        tx,
        organization,
        { name, slug, description: input.description ?? '' },
        provisioners,
      );
      recordAudit(tx, actor, {
        action: 'project.created',
        resourceType: 'project',
        resourceId: project.id,
        projectId: project.id,
        details: { name, slug },
      });
      await tx.flush();
      const environments = await tx.find(EnvironmentSchema, { project });
      await announceChange(tx, {
        environmentIds: environments.map((e) => e.id),
        kind: 'environment.created',
        actor: changeActor(actor),
      });
      return project;
    }),
  );
}

export async function updateProject(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  input: { name?: string | null; description?: string | null },
): Promise<Project> {
  return em.transactional(async (tx) => {
    const project = await getProject(tx, actor, { id });
    if (input.name != null) project.name = assertName(input.name, 'name');
    if (input.description != null) project.description = input.description;
    recordAudit(tx, actor, {
      action: 'project.updated',
      resourceType: 'project',
      resourceId: id,
      projectId: id,
      details: { ...input },
    });
    return project;
  });
}

export async function deleteProject(em: EntityManager, actor: ManagementPrincipal, id: string): Promise<Project> {
  return em.transactional(async (tx) => {
    const project = await getProject(tx, actor, { id });
    recordAudit(tx, actor, {
      action: 'project.deleted',
      resourceType: 'project',
      resourceId: id,
      projectId: id,
      details: { slug: project.slug },
    });
    const environments = await tx.find(EnvironmentSchema, { project });
    await announceChange(tx, {
      environmentIds: environments.map((e) => e.id),
      kind: 'environment.deleted',
      actor: changeActor(actor),
    });
    tx.remove(project);
    return project;
  });
}

const ENVIRONMENT_ORDER = { sortOrder: 'asc', createdAt: 'asc', id: 'asc' } as const;

export async function listEnvironments(em: EntityManager, project: Project): Promise<Environment[]> {
  return em.find(EnvironmentSchema, { project }, { orderBy: ENVIRONMENT_ORDER });
}

/** The environments of a project a page at a time, in display order. */
export async function pageEnvironments(
  em: EntityManager,
  project: Project,
  args: PageArgs,
): Promise<Page<Environment>> {
  const window = pageWindow(args);
  const [rows, total] = await em.findAndCount(
    EnvironmentSchema,
    { project },
    { orderBy: ENVIRONMENT_ORDER, ...window },
  );
  return toPage(rows, total, window);
}

/**
 * The project's environments in display order as plain rows, for the read path of the API (a
 * project's page lists them on every view); mutations use listEnvironments' managed entities.
 */
export async function readEnvironments(em: EntityManager, project: Project): Promise<Environment[]> {
  const rows = await em.execute<
    {
      id: string;
      key: string;
      name: string;
      color: string | null;
      sort_order: number;
      version: number;
      requires_approval: boolean;
      min_approvals: number;
      created_at: string | Date;
      updated_at: string | Date;
    }[]
  >(
    `select id, key, name, color, sort_order, version, requires_approval, min_approvals, created_at, updated_at
     from environments
     where project_id = ? order by sort_order asc, created_at asc`,
    [project.id],
  );
  const platform = em.getPlatform();
  const date = (v: string | Date) => (v instanceof Date ? v : platform.parseDate(v));
  return rows.map((row) => ({
    id: row.id,
    project,
    key: row.key,
    name: row.name,
    color: row.color,
    sortOrder: Number(row.sort_order),
    version: Number(row.version),
    requiresApproval: row.requires_approval,
    minApprovals: Number(row.min_approvals),
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
  }));
}

export async function getEnvironment(em: EntityManager, actor: ManagementPrincipal, id: string): Promise<Environment> {
  const environment = await em.findOne(
    EnvironmentSchema,
    { id, project: { organization: actor.organizationId } },
    { populate: ['project'] },
  );
  if (!environment) throw new NotFoundError('environment');
  return environment;
}

export async function createEnvironment(
  em: EntityManager,
  actor: ManagementPrincipal,
  projectId: string,
  input: { key?: string | null; name: string; color?: string | null },
  provisioners: readonly EnvironmentProvisioner[],
): Promise<Environment> {
  const name = assertName(input.name, 'name');
  const key = assertKey(input.key ?? slugify(name), 'key');
  assertColor(input.color);
  return em.transactional((tx) =>
    flushUnique(tx, `an environment with key "${key}" in this project`, async () => {
      const project = await getProject(tx, actor, { id: projectId });
      const last = await tx.findOne(EnvironmentSchema, { project }, { orderBy: { sortOrder: 'desc' } });
      const environment = await addEnvironment(
        tx,
        project,
        { key, name, color: input.color },
        (last?.sortOrder ?? -1) + 1,
        provisioners,
      );
      recordAudit(tx, actor, {
        action: 'environment.created',
        resourceType: 'environment',
        resourceId: environment.id,
        projectId,
        environmentId: environment.id,
        details: { key, name },
      });
      await tx.flush();
      await announceChange(tx, {
        environmentIds: [environment.id],
        kind: 'environment.created',
        actor: changeActor(actor),
      });
      return environment;
    }),
  );
}

export async function updateEnvironment(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  input: { name?: string | null; color?: string | null; sortOrder?: number | null },
): Promise<Environment> {
  assertColor(input.color);
  if (input.sortOrder != null && (!Number.isInteger(input.sortOrder) || input.sortOrder < 0)) {
    throw new ValidationError('sortOrder must be a non-negative integer');
  }
  return em.transactional(async (tx) => {
    const environment = await getEnvironment(tx, actor, id);
    if (input.name != null) environment.name = assertName(input.name, 'name');
    if (input.color !== undefined) environment.color = input.color;
    if (input.sortOrder != null) environment.sortOrder = input.sortOrder;
    recordAudit(tx, actor, {
      action: 'environment.updated',
      resourceType: 'environment',
      resourceId: id,
      projectId: environment.project.id,
      environmentId: id,
      details: { ...input },
    });
    return environment;
  });
}

/** Deletes an environment; with `projectId`, only one of that project (another answers NOT_FOUND). */
export async function deleteEnvironment(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  projectId?: string | null,
): Promise<Environment> {
  return em.transactional(async (tx) => {
    const environment = await getEnvironment(tx, actor, id);
    if (projectId && environment.project.id !== projectId) throw new NotFoundError('environment');
    recordAudit(tx, actor, {
      action: 'environment.deleted',
      resourceType: 'environment',
      resourceId: id,
      projectId: environment.project.id,
      environmentId: id,
      details: { key: environment.key },
    });
    await announceChange(tx, {
      environmentIds: [id],
      kind: 'environment.deleted',
      actor: changeActor(actor),
    });
    tx.remove(environment);
    return environment;
  });
}

/**
 * Locks environment rows (in id order, so writers never deadlock) for the rest of the
 * transaction. Every write whose validity depends on other rows of an environment (a
 * prerequisite graph, the segments a rule names) takes these locks first, so two concurrent
 * writes cannot each pass validation and together break it (e.g. close a prerequisite cycle).
 * announceChange updates the same rows at the end, so this only moves the wait earlier. The lock
 * is FOR NO KEY UPDATE, the one an UPDATE of those rows takes: it serializes these writers
 * without conflicting with the key-share locks that inserts referencing an environment hold.
 */
export async function lockEnvironments(em: EntityManager, environmentIds: readonly string[]): Promise<void> {
  if (environmentIds.length === 0) return;
  await em.execute('select id from environments where id = any(?::uuid[]) order by id for no key update', [
    uuidArray(environmentIds),
  ]);
}
