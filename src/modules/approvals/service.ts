import { randomUUID } from 'node:crypto';
import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { LockMode } from '@mikro-orm/postgresql';
import { isPermission, type Permission, ROLE_PERMISSIONS } from '../../auth/permissions.js';
import { hasPermission, intersect, type ManagementPrincipal } from '../../auth/principal.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { asDomainError } from '../../db/errors.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { MembershipSchema } from '../accounts/entity.js';
import { AuditEntrySchema } from '../audit/entity.js';
import { recordAudit } from '../audit/service.js';
import { FlagStateSchema } from '../flags/entity.js';
import { archiveFlag, deleteFlag } from '../flags/service.js';
import { type FlagStateChanges, updateFlagState } from '../flags/state.js';
import {
  OPEN_STATES,
  type PendingChange,
  PendingChangeSchema,
  type PendingChangeState,
  type PendingReview,
  PendingReviewSchema,
  type ReviewDecision,
} from '../pending/entity.js';
import {
  type ApprovedChange,
  announcePendingChange,
  assertApplyAt,
  type ChangeRequest,
  proposalOf,
  recordPendingChange,
} from '../pending/service.js';
import { type Environment, EnvironmentSchema } from '../projects/entity.js';
import { getEnvironment, lockEnvironments } from '../projects/service.js';
import { updateSegment } from '../segments/service.js';
import { AccessTokenSchema } from '../tokens/entity.js';

/**
 * Approvals and scheduled changes: what happens to a pending change (modules/pending) after it
 * is proposed. Reviewers approve or reject it; once approvals reach what it requires it applies,
 * in the reviewer's transaction, through the very service that would have applied it at once,
 * and only if what it was made against is still current; otherwise it becomes `stale`. A change
 * with a time to apply at waits for the scheduler (scheduler.ts), which applies it by the same
 * rule, or marks it `expired` when its time came before it was approved.
 */

/** Where a pending change is scheduled for a later time, durably (the job queue, scheduler.ts). */
export interface ChangeScheduler {
  /** Schedules the change's application at its applyAt, in the caller's transaction. */
  schedule(em: EntityManager, change: PendingChange): Promise<void>;
}

export interface PendingChangeFilters extends PageArgs {
  projectId?: string | null;
  states?: readonly PendingChangeState[] | null;
  environmentId?: string | null;
  flagId?: string | null;
  authorUserId?: string | null;
  /** true: only changes with a time to apply at; false: only those without. */
  scheduled?: boolean | null;
}

export async function listPendingChanges(
  em: EntityManager,
  actor: ManagementPrincipal,
  filters: PendingChangeFilters,
): Promise<Page<PendingChange>> {
  const window = pageWindow(filters);
  const where: FilterQuery<PendingChange> & Record<string, unknown> = { organizationId: actor.organizationId };
  if (filters.projectId) where.project = filters.projectId;
  if (filters.states && filters.states.length > 0) where.state = { $in: [...filters.states] };
  if (filters.environmentId) where.environmentIds = { $contains: [filters.environmentId] };
  if (filters.flagId) where.flagId = filters.flagId;
  if (filters.authorUserId) where.authorUserId = filters.authorUserId;
  if (filters.scheduled != null) where.applyAt = filters.scheduled ? { $ne: null } : null;
  const [rows, total] = await em.findAndCount(PendingChangeSchema, where, {
    populate: ['project', 'environment'],
    orderBy: { createdAt: 'desc', id: 'desc' },
    ...window,
  });
  return toPage(rows, total, window);
}

export async function getPendingChange(
  em: EntityManager,
  actor: Pick<ManagementPrincipal, 'organizationId'>,
  id: string,
): Promise<PendingChange> {
  const change = await em.findOne(
    PendingChangeSchema,
    { id, organizationId: actor.organizationId },
    { populate: ['project', 'environment'] },
  );
  if (!change) throw new NotFoundError('pending change');
  return change;
}

/** The change, locked for the rest of the transaction (every review, edit and the scheduler take it). */
async function lockChange(em: EntityManager, organizationId: string, id: string): Promise<PendingChange> {
  const change = await em.findOne(
    PendingChangeSchema,
    { id, organizationId },
    { populate: ['project', 'environment'], lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
  );
  if (!change) throw new NotFoundError('pending change');
  return change;
}

export function reviewsOf(em: EntityManager, change: PendingChange): Promise<PendingReview[]> {
  return em.find(PendingReviewSchema, { change }, { orderBy: { createdAt: 'asc' } });
}

/** The members whose approvals count now (those of the current round). */
async function approversOf(em: EntityManager, change: PendingChange): Promise<string[]> {
  const reviews = await em.find(PendingReviewSchema, { change, round: change.round, decision: 'approve' });
  return reviews.map((r) => r.reviewerUserId);
}

const isAuthor = (actor: ManagementPrincipal, change: PendingChange) =>
  change.authorUserId !== null ? actor.userId === change.authorUserId : actor.tokenId === change.authorTokenId;

function assertOpen(change: PendingChange, doing: string, states: readonly PendingChangeState[] = OPEN_STATES) {
  if (!states.includes(change.state))
    throw new ConflictError(`this change is ${change.state}: it cannot be ${doing}`, { state: change.state });
}

/** Why a pending change no longer fits what it was made against, or null when it still does. */
async function staleness(em: EntityManager, change: PendingChange): Promise<string | null> {
  if (change.kind === 'segment.update') return null; // updateSegment checks the version itself
  const states = await em.find(
    FlagStateSchema,
    { flag: change.flagId!, environment: { $in: Object.keys(change.base) } },
    { populate: ['environment', 'flag'] },
  );
  if (states.length === 0) return `flag "${change.flagKey}" no longer exists`;
  for (const [environmentId, version] of Object.entries(change.base)) {
    const state = states.find((s) => s.environment.id === environmentId);
    if (!state) return `an environment of flag "${change.flagKey}" no longer exists`;
    if (state.version !== version)
      return `flag "${change.flagKey}" changed in "${state.environment.key}" since this was proposed (version ${version}, now ${state.version}): re-propose it`;
  }
  const archived = states[0]!.flag.archivedAt !== null;
  if (change.kind !== 'flag.state' && archived !== change.before.archived)
    return `flag "${change.flagKey}" was ${archived ? 'archived' : 'restored'} since this was proposed`;
  return null;
}

/** Writes what the change proposes, through the service that owns it, bypassing the gate. */
async function write(em: EntityManager, actor: ManagementPrincipal, change: PendingChange, approved: ApprovedChange) {
  const options = { approved };
  switch (change.kind) {
    case 'flag.state': {
      const environmentId = change.environment!.id;
      const proposed = change.proposed as unknown as Required<FlagStateChanges>;
      await updateFlagState(
        em,
        actor,
        { flagId: change.flagId },
        environmentId,
        change.base[environmentId]!,
        proposed,
        options,
      );
      return;
    }
    case 'flag.archive':
    case 'flag.restore':
      await archiveFlag(em, actor, change.flagId!, change.kind === 'flag.archive', options);
      return;
    case 'flag.delete':
      await deleteFlag(em, actor, { flagId: change.flagId }, options);
      return;
    case 'segment.update':
      await updateSegment(em, actor, { segmentId: change.segmentId }, change.proposed, change.base.segment, options);
      return;
  }
}

/**
 * Applies an approved change now, in the caller's transaction, or marks it stale when what it was
 * made against changed (or it would no longer be valid, or its author may no longer make it): a
 * change is never applied over one its reviewers did not see, nor for an author who lost the right.
 * The write runs in a savepoint, so a refused write leaves nothing behind.
 */
async function applyChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  change: PendingChange,
  trigger: ApprovedChange['trigger'],
): Promise<void> {
  const approved: ApprovedChange = {
    pendingChangeId: change.id,
    requestedBy: { userId: change.authorUserId, tokenId: change.authorTokenId },
    approvedBy: await approversOf(em, change),
    trigger,
  };
  const authorCannot = await whyAuthorCannotNow(em, change);
  let outcome = authorCannot ? `${authorCannot}: it did not apply` : await staleness(em, change);
  if (outcome === null) {
    try {
      await em.transactional((tx) => write(tx, actor, change, approved));
    } catch (error) {
      const refused = asDomainError(error);
      if (!refused || !['CONFLICT', 'VALIDATION', 'NOT_FOUND'].includes(refused.code)) throw error;
      outcome = `${refused.message}: re-propose it`;
    }
  }
  change.state = outcome === null ? 'applied' : 'stale';
  change.outcome = outcome;
  change.resolvedAt = new Date();
}

/**
 * Who created the service token that proposed a change acting alone: the person holding its value,
 * so approving it would be reviewing their own request. From the token, or, once it is deleted,
 * from the audit entry of its creation (so deleting the token does not open the way).
 */
async function tokenCreatorOf(em: EntityManager, change: PendingChange): Promise<string | null> {
  if (change.authorUserId !== null || !change.authorTokenId) return null;
  const token = await em.findOne(
    AccessTokenSchema,
    { id: change.authorTokenId, organization: change.organizationId },
    { fields: ['user'] },
  );
  if (token) return token.user?.id ?? null;
  const created = await em.findOne(
    AuditEntrySchema,
    {
      organizationId: change.organizationId,
      action: 'token.created',
      resourceType: 'access_token',
      resourceId: change.authorTokenId,
    },
    { fields: ['actorUserId'] },
  );
  return created?.actorUserId ?? null;
}

export interface ReviewInput {
  decision: ReviewDecision;
  comment?: string | null;
}

/**
 * A reviewer approves or rejects a change: never their own, and once per round. A rejection ends
 * it; the approval that reaches what it requires applies it (or, when it has a time to apply at,
 * leaves it approved for the scheduler).
 */
export async function reviewPendingChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
  input: ReviewInput,
  now: Date,
): Promise<PendingChange> {
  if (input.comment && input.comment.length > 2_000)
    throw new ValidationError('comment must be at most 2000 characters');
  const reviewer = actor.userId;
  if (!reviewer)
    throw new ForbiddenError("a review is a member's decision: a service token acting alone cannot review");
  return em.transactional(async (tx) => {
    const change = await lockChange(tx, actor.organizationId, id);
    assertOpen(change, 'reviewed');
    if (change.requiredApprovals === 0)
      throw new ConflictError('this change requires no approval: it applies at its time');
    if (change.authorUserId === reviewer) throw new ForbiddenError('nobody reviews their own request');
    if ((await tokenCreatorOf(tx, change)) === reviewer)
      throw new ForbiddenError('nobody reviews a request made with a service token they created');
    if (change.applyAt && change.applyAt.getTime() <= now.getTime())
      throw new ConflictError('its time to apply came before it was approved: it does not run');
    const already = await tx.count(PendingReviewSchema, { change, round: change.round, reviewerUserId: reviewer });
    if (already > 0) throw new ConflictError('you have already reviewed this change: the same reviewer counts once');
    tx.create(PendingReviewSchema, {
      id: randomUUID(),
      change,
      round: change.round,
      reviewerUserId: reviewer,
      reviewerTokenId: actor.tokenId,
      decision: input.decision,
      comment: input.comment ?? null,
      createdAt: new Date(),
    });
    await tx.flush();
    const approvals = (await approversOf(tx, change)).length;
    if (input.decision === 'reject') {
      change.state = 'rejected';
      change.resolvedAt = new Date();
    } else if (approvals >= change.requiredApprovals && change.state === 'pending') {
      if (change.applyAt) change.state = 'approved';
      else await applyChange(tx, actor, change, 'review');
    }
    recordPendingChange(tx, actor, change, 'reviewed', {
      decision: input.decision,
      ...(input.comment ? { comment: input.comment } : {}),
      approvals,
      requiredApprovals: change.requiredApprovals,
      ...(change.outcome ? { outcome: change.outcome } : {}),
    });
    await announcePendingChange(tx, actor, change);
    return change;
  });
}

/** Its author withdraws a change (or a reviewer takes one off the queue): it will not apply. */
export async function cancelPendingChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  id: string,
): Promise<PendingChange> {
  return em.transactional(async (tx) => {
    const change = await lockChange(tx, actor.organizationId, id);
    if (!isAuthor(actor, change) && !hasPermission(actor, 'approval:review'))
      throw new ForbiddenError('only its author (or a reviewer) can cancel a change');
    assertOpen(change, 'cancelled', [...OPEN_STATES, 'stale']);
    change.state = 'cancelled';
    change.resolvedAt = new Date();
    recordPendingChange(tx, actor, change, 'cancelled');
    await announcePendingChange(tx, actor, change);
    return change;
  });
}

/**
 * A new time for a scheduled change. Where it requires approval its approvals are reset: the
 * reviewers approved it for the time they saw.
 */
export async function reschedulePendingChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  scheduler: ChangeScheduler,
  id: string,
  applyAt: Date,
  now: Date,
): Promise<PendingChange> {
  assertApplyAt(applyAt, now);
  return em.transactional(async (tx) => {
    const change = await lockChange(tx, actor.organizationId, id);
    if (!isAuthor(actor, change) && !hasPermission(actor, 'approval:review'))
      throw new ForbiddenError('only its author (or a reviewer) can reschedule a change');
    assertOpen(change, 'rescheduled');
    const was = change.applyAt;
    change.applyAt = applyAt;
    if (change.requiredApprovals > 0) {
      change.round += 1;
      change.state = 'pending';
    }
    recordPendingChange(tx, actor, change, 'rescheduled', {
      before: { applyAt: was?.toISOString() ?? null },
      after: { applyAt: applyAt.toISOString() },
    });
    await scheduler.schedule(tx, change);
    await announcePendingChange(tx, actor, change);
    return change;
  });
}

export interface FlagChangeRequest {
  by: { flagId?: string | null; projectId?: string | null; flagKey?: string | null };
  environmentId: string;
  expectedVersion: number;
  changes: FlagStateChanges;
  comment?: string | null;
  applyAt?: Date | null;
}

/**
 * Proposes a change to a flag's state explicitly: with a comment for its reviewers, and/or a time
 * to apply at (a scheduled change, also where nothing requires approval). Validated like the
 * change itself, against the state the caller read.
 */
export async function requestFlagChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  scheduler: ChangeScheduler,
  input: FlagChangeRequest,
  now: Date,
): Promise<PendingChange> {
  const request: ChangeRequest = { comment: input.comment, applyAt: input.applyAt, now };
  return em.transactional(async (tx) => {
    const answer = await updateFlagState(
      tx,
      actor,
      input.by,
      input.environmentId,
      input.expectedVersion,
      input.changes,
      { request },
    );
    const change = proposalOf(answer)!;
    if (change.applyAt) await scheduler.schedule(tx, change);
    return change;
  });
}

/**
 * Its author replaces what a flag-state change proposes (against the state as it is now, which
 * `expectedVersion` names): approvals given so far no longer count. A stale change becomes
 * current again this way.
 */
export async function editPendingChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  scheduler: ChangeScheduler,
  id: string,
  input: { expectedVersion: number; changes: FlagStateChanges; comment?: string | null; applyAt?: Date | null },
  now: Date,
): Promise<PendingChange> {
  return em.transactional(async (tx) => {
    const change = await lockChange(tx, actor.organizationId, id);
    if (!isAuthor(actor, change)) throw new ForbiddenError('only its author can edit a change');
    assertOpen(change, 'edited', [...OPEN_STATES, 'stale']);
    if (change.kind !== 'flag.state')
      throw new ValidationError('only a change to a flag state can be edited: cancel this one and propose anew');
    const request: ChangeRequest = {
      comment: input.comment,
      applyAt: input.applyAt ?? change.applyAt,
      now,
      replacing: change,
    };
    await updateFlagState(
      tx,
      actor,
      { flagId: change.flagId },
      change.environment!.id,
      input.expectedVersion,
      input.changes,
      { request },
    );
    // A job for the same time may still be queued: whichever runs first applies it, the other finds it resolved.
    if (change.applyAt) await scheduler.schedule(tx, change);
    return change;
  });
}

/** What the scheduler's job carries: the change, and the time it was scheduled for. */
export interface ScheduledJob {
  id: string;
  applyAt: string;
}

/** The scheduler, acting for the member (and token) who scheduled the change. */
function schedulerOf(change: PendingChange): ManagementPrincipal {
  return {
    kind: 'scheduler',
    organizationId: change.organizationId,
    userId: change.authorUserId,
    tokenId: change.authorTokenId,
    role: null,
    permissions: new Set(),
    environmentIds: null,
    organizationBound: true,
  };
}

/** What each kind of change needs of whoever makes it (in its environment, for a flag state). */
const KIND_PERMISSION: Record<PendingChange['kind'], Permission> = {
  'flag.state': 'flag:write',
  'flag.archive': 'flag:write',
  'flag.restore': 'flag:write',
  'flag.delete': 'flag:delete',
  'segment.update': 'segment:write',
};

/**
 * Why whoever scheduled a change may not make it now, or null when they still may. A change that
 * runs later runs with the authority its author has then, as their tokens do on every request: a
 * member who left or lost the permission, or a token deactivated, deleted or narrowed away from
 * the environment, has it run nothing any more.
 */
async function whyAuthorCannotNow(em: EntityManager, change: PendingChange): Promise<string | null> {
  const organization = change.organizationId;
  let permissions: ReadonlySet<Permission> | null = null;
  if (change.authorTokenId) {
    const token = await em.findOne(AccessTokenSchema, { id: change.authorTokenId, organization });
    if (!token?.active) return 'the token that scheduled it is deactivated or deleted';
    const environmentId = change.environment?.id;
    if (token.environmentIds && environmentId && !token.environmentIds.includes(environmentId))
      return 'the token that scheduled it no longer reaches its environment';
    permissions = new Set(token.scopes.filter(isPermission));
  }
  if (change.authorUserId) {
    const membership = await em.findOne(MembershipSchema, { user: change.authorUserId, organization });
    if (!membership) return 'its author is no longer a member';
    const role = ROLE_PERMISSIONS[membership.role];
    permissions = permissions ? intersect(permissions, role) : role;
  }
  const needed = KIND_PERMISSION[change.kind];
  return permissions?.has(needed) ? null : `its author no longer holds ${needed}`;
}

/**
 * The scheduler's job: at its time, an approved change applies (by the stale-version rule) and a
 * change still waiting for approval expires. Idempotent, under the change's row lock: a job for a
 * time the change no longer has (it was rescheduled), or for a change already resolved, does nothing.
 */
export async function applyScheduledChange(em: EntityManager, job: ScheduledJob): Promise<PendingChangeState | null> {
  return em.transactional(async (tx) => {
    const change = await tx.findOne(
      PendingChangeSchema,
      { id: job.id },
      { populate: ['project', 'environment'], lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    if (!change || change.applyAt?.toISOString() !== job.applyAt || !OPEN_STATES.includes(change.state)) return null;
    const actor = schedulerOf(change);
    const authorCannot = change.state === 'pending' ? null : await whyAuthorCannotNow(tx, change);
    if (change.state === 'pending' || authorCannot) {
      change.state = 'expired';
      change.outcome = authorCannot
        ? `${authorCannot}: it did not run`
        : 'its time came before it was approved: it did not run';
      change.resolvedAt = new Date();
      recordPendingChange(tx, actor, change, 'expired', { outcome: change.outcome });
    } else {
      await applyChange(tx, actor, change, 'schedule');
      recordPendingChange(tx, actor, change, change.state, change.outcome ? { outcome: change.outcome } : {});
    }
    await announcePendingChange(tx, actor, change);
    return change.state;
  });
}

/** Whether changes to what an environment evaluates wait for reviewers, and for how many. */
export async function setEnvironmentApproval(
  em: EntityManager,
  actor: ManagementPrincipal,
  environmentId: string,
  input: { requiresApproval: boolean; minApprovals?: number | null },
): Promise<Environment> {
  const minApprovals = input.minApprovals;
  if (minApprovals != null && (!Number.isInteger(minApprovals) || minApprovals < 1 || minApprovals > 10))
    throw new ValidationError('minApprovals must be between 1 and 10');
  return em.transactional(async (tx) => {
    const environment = await getEnvironment(tx, actor, environmentId);
    await lockEnvironments(tx, [environment.id]);
    await tx.refresh(environment);
    const before = { requiresApproval: environment.requiresApproval, minApprovals: environment.minApprovals };
    environment.requiresApproval = input.requiresApproval;
    if (minApprovals != null) environment.minApprovals = minApprovals;
    recordAudit(tx, actor, {
      action: 'environment.approval.updated',
      resourceType: 'environment',
      resourceId: environment.id,
      projectId: environment.project.id,
      environmentId: environment.id,
      details: {
        key: environment.key,
        before,
        after: { requiresApproval: environment.requiresApproval, minApprovals: environment.minApprovals },
      },
    });
    return environment;
  });
}

/** The environments a change reaches, in their display order. */
export async function environmentsOf(em: EntityManager, change: PendingChange): Promise<Environment[]> {
  if (change.environmentIds.length === 0) return [];
  return em.find(
    EnvironmentSchema,
    { id: { $in: change.environmentIds } },
    { orderBy: { sortOrder: 'asc', createdAt: 'asc' } },
  );
}
