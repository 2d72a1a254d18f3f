import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { hasPermission, type ManagementPrincipal } from '../../auth/principal.js';
import { ForbiddenError, ValidationError } from '../../errors.js';
import { announceChange } from '../../realtime/changes.js';
import { type AuditActor, recordAudit } from '../audit/service.js';
import type { Environment } from '../projects/entity.js';
import { type PendingChange, type PendingChangeKind, PendingChangeSchema } from './entity.js';

/**
 * The gate every change to what an environment evaluates passes (flags, segments): where an
 * environment it reaches requires approval, the change does not apply but becomes a pending
 * change, which the caller answers instead. Also the door of explicit requests (a comment, a time
 * to apply at) and the bypass of a pending change that is itself applying (`approved`).
 */

/** What a change would do, as the module that owns it describes it, already validated. */
export interface Proposal {
  kind: PendingChangeKind;
  projectId: string;
  /** The environments whose evaluation the change alters. */
  environments: readonly Environment[];
  /** The one environment of a flag-state change. */
  environment?: Environment | null;
  flag?: { id: string; key: string } | null;
  segment?: { id: string; key: string } | null;
  /** What it is made against: a version per environment id, or under `segment`. */
  base: Record<string, number>;
  before: Record<string, unknown>;
  /** The full proposed state. */
  proposed: Record<string, unknown>;
}

/** An explicit request: a pending change even where nothing requires approval, when it has a time. */
export interface ChangeRequest {
  comment?: string | null;
  applyAt?: Date | null;
  /** The request's clock (a time to apply at must be later). */
  now: Date;
  /** Editing: this pending change is replaced (and its approvals reset) instead of a new one. */
  replacing?: PendingChange | null;
}

/** A pending change applying (approved, or its time came): the audit entry of the write names it. */
export interface ApprovedChange {
  pendingChangeId: string;
  requestedBy: { userId: string | null; tokenId: string | null };
  approvedBy: string[];
  trigger: 'review' | 'schedule';
}

export interface ChangeOptions {
  request?: ChangeRequest;
  approved?: ApprovedChange;
}

/**
 * A change that became a pending change answers what it would have changed, as it still is,
 * carrying the pending change (GraphQL: that type's `pendingChange` field), so every door keeps
 * its answer's type. The answer is a view of the stored object (its prototype), never the object
 * itself, so no other answer of the same operation carries the proposal.
 */
const proposals = new WeakMap<object, PendingChange>();

export function answerWith<T extends object>(answer: T, pending: PendingChange): T {
  const view = Object.create(answer) as T;
  proposals.set(view, pending);
  return view;
}

/** The pending change an answer stands for, or null when its change applied. */
export const proposalOf = (answer: object): PendingChange | null => proposals.get(answer) ?? null;

/** What a write's audit details add when it applies a pending change. */
export const approvalDetails = (options: ChangeOptions = {}) =>
  options.approved ? { approval: options.approved } : {};

const MAX_COMMENT = 2_000;

/**
 * How far ahead a change may be scheduled. A time is a durable job and a row that stays open
 * (and counts among the flag's scheduled changes) until then: year 9999 would be neither.
 */
export const MAX_SCHEDULE_AHEAD_DAYS = 366;

/** A time to apply at: later than now, and at most MAX_SCHEDULE_AHEAD_DAYS ahead. */
export function assertApplyAt(applyAt: Date, now: Date): void {
  if (applyAt.getTime() <= now.getTime()) throw new ValidationError('applyAt must be in the future');
  if (applyAt.getTime() > now.getTime() + MAX_SCHEDULE_AHEAD_DAYS * 86_400_000)
    throw new ValidationError(`applyAt must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`);
}

/** Announces, on every node, that a pending change moved (approvalChanged subscriptions). */
export async function announcePendingChange(em: EntityManager, actor: AuditActor, change: PendingChange) {
  await announceChange(em, {
    environmentIds: [],
    bumpVersion: false,
    kind: 'approval.changed',
    actor: { userId: actor.userId, tokenId: actor.tokenId },
    notice: { projectId: change.project.id, id: change.id, state: change.state },
  });
}

/** The audit record of a pending change that moved, with its before and after. */
export function recordPendingChange(
  em: EntityManager,
  actor: AuditActor,
  change: PendingChange,
  action: string,
  extra: Record<string, unknown> = {},
) {
  recordAudit(em, actor, {
    action: `approval.${action}`,
    resourceType: 'approval',
    resourceId: change.id,
    projectId: change.project.id,
    environmentId: change.environment?.id ?? null,
    details: {
      kind: change.kind,
      state: change.state,
      ...(change.flagKey ? { flagKey: change.flagKey } : {}),
      ...(change.segmentKey ? { segmentKey: change.segmentKey } : {}),
      ...(change.applyAt ? { applyAt: change.applyAt.toISOString() } : {}),
      ...extra,
    },
  });
}

/**
 * Returns the pending change the proposal became, or null when it applies now: nothing it reaches
 * requires approval and nobody asked for it to wait, or it is an approved pending change applying.
 */
export async function gateChange(
  em: EntityManager,
  actor: ManagementPrincipal,
  proposal: Proposal,
  options: ChangeOptions = {},
): Promise<PendingChange | null> {
  if (options.approved) return null;
  const governing = proposal.environments.filter((e) => e.requiresApproval);
  const request = options.request;
  if (governing.length === 0 && !request) return null;
  if (governing.length > 0 && !hasPermission(actor, 'approval:request')) {
    throw new ForbiddenError(
      `${governing.map((e) => `"${e.key}"`).join(', ')} requires approval, and this credential may not request one (approval:request)`,
    );
  }
  if (request?.applyAt) assertApplyAt(request.applyAt, request.now);
  if (governing.length === 0 && !request?.applyAt) {
    throw new ValidationError(
      'nothing here requires approval: apply the change directly, or give applyAt to schedule it',
    );
  }
  if (request?.comment && request.comment.length > MAX_COMMENT)
    throw new ValidationError(`comment must be at most ${MAX_COMMENT} characters`);
  const requiredApprovals = governing.reduce((most, e) => Math.max(most, e.minApprovals), 0);
  const fields = {
    base: proposal.base,
    before: proposal.before,
    proposed: proposal.proposed,
    environmentIds: proposal.environments.map((e) => e.id),
    requiredApprovals,
    state: requiredApprovals > 0 ? ('pending' as const) : ('approved' as const),
    outcome: null,
    resolvedAt: null,
    updatedAt: new Date(),
  };
  const replacing = request?.replacing;
  if (replacing) {
    Object.assign(replacing, fields, {
      round: replacing.round + 1,
      ...(request.comment !== undefined && request.comment !== null ? { comment: request.comment } : {}),
      ...(request.applyAt ? { applyAt: request.applyAt } : {}),
    });
    recordPendingChange(em, actor, replacing, 'edited', { before: proposal.before, after: proposal.proposed });
    await announcePendingChange(em, actor, replacing);
    return replacing;
  }
  const change = em.create(PendingChangeSchema, {
    id: randomUUID(),
    organizationId: actor.organizationId,
    project: proposal.projectId,
    kind: proposal.kind,
    flagId: proposal.flag?.id ?? null,
    flagKey: proposal.flag?.key ?? null,
    segmentId: proposal.segment?.id ?? null,
    segmentKey: proposal.segment?.key ?? null,
    environment: proposal.environment ?? null,
    comment: request?.comment ?? null,
    authorUserId: actor.userId,
    authorTokenId: actor.tokenId,
    authorKind: actor.kind,
    round: 1,
    applyAt: request?.applyAt ?? null,
    createdAt: new Date(),
    ...fields,
  });
  recordPendingChange(em, actor, change, 'requested', {
    ...(change.comment ? { comment: change.comment } : {}),
    requiredApprovals,
    before: proposal.before,
    after: proposal.proposed,
  });
  await announcePendingChange(em, actor, change);
  return change;
}
