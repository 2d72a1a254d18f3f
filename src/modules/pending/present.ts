import { Type } from 'typebox';
import { Json, Nullable, Timestamp, Uuid } from '../../rest/route.js';
import { PENDING_CHANGE_KINDS, PENDING_CHANGE_STATES } from './entity.js';

/**
 * A pending change as REST shows it (an "approval" of the reference): the fragment every route
 * that may answer one selects, its schema, and the mapping. Here, below approvals and flags, so
 * that routes of either can answer one.
 */
export const APPROVAL = `fragment RestApproval on PendingChange {
  id kind state project { id } flag_id: flag { id } flag_key: flagKey segment_key: segmentKey
  environment { id } environments { id } comment author { id } author_token_id: authorTokenId
  before proposed changes base_version: baseVersion required_approvals: requiredApprovals approvals round
  reviews { reviewer { id } decision comment round created_at: createdAt }
  apply_at: applyAt outcome resolved_at: resolvedAt created_at: createdAt updated_at: updatedAt
}`;

export const Approval = Type.Object({
  id: Uuid,
  kind: Type.Enum([...PENDING_CHANGE_KINDS]),
  state: Type.Enum([...PENDING_CHANGE_STATES]),
  project_id: Uuid,
  flag_id: Nullable(Uuid),
  flag_key: Nullable(Type.String()),
  segment_key: Nullable(Type.String()),
  environment_id: Nullable(Uuid),
  environment_ids: Type.Array(Uuid, { description: 'Every environment whose evaluation it alters.' }),
  comment: Nullable(Type.String()),
  requested_by: Nullable(Uuid),
  requested_by_token: Nullable(Uuid),
  before: Json,
  proposed: Json,
  changes: Type.Array(Type.String(), { description: 'The diff, as lines a person reads.' }),
  base_version: Nullable(Type.Integer({ description: 'The version it was made against.' })),
  required_approvals: Type.Integer(),
  approvals: Type.Integer(),
  round: Type.Integer(),
  reviews: Type.Array(
    Type.Object({
      reviewer_id: Nullable(Uuid),
      decision: Type.Enum(['approve', 'reject']),
      comment: Nullable(Type.String()),
      round: Type.Integer(),
      created_at: Timestamp,
    }),
  ),
  apply_at: Nullable(Timestamp),
  outcome: Nullable(Type.String()),
  resolved_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const enumOut = (value: string) => value.toLowerCase().replace('_', '.');
export const enumIn = (value: string) => value.toUpperCase().replace('.', '_');

// biome-ignore lint/suspicious/noExplicitAny: the fragment's data
export const approvalJson = (a: any) => ({
  id: a.id,
  kind: enumOut(a.kind),
  state: enumOut(a.state),
  project_id: a.project.id,
  flag_id: a.flag_id?.id ?? null,
  flag_key: a.flag_key,
  segment_key: a.segment_key,
  environment_id: a.environment?.id ?? null,
  environment_ids: a.environments.map((e: { id: string }) => e.id),
  comment: a.comment,
  requested_by: a.author?.id ?? null,
  requested_by_token: a.author_token_id,
  before: a.before,
  proposed: a.proposed,
  changes: a.changes,
  base_version: a.base_version,
  required_approvals: a.required_approvals,
  approvals: a.approvals,
  round: a.round,
  reviews: a.reviews.map((r: { reviewer: { id: string } | null; decision: string } & Record<string, unknown>) => ({
    reviewer_id: r.reviewer?.id ?? null,
    decision: r.decision.toLowerCase(),
    comment: r.comment,
    round: r.round,
    created_at: r.created_at,
  })),
  apply_at: a.apply_at,
  outcome: a.outcome,
  resolved_at: a.resolved_at,
  created_at: a.created_at,
  updated_at: a.updated_at,
});

/** A route's `accepted`: the pending change on the object `of` the data names, as REST shows it. */
// biome-ignore lint/suspicious/noExplicitAny: the operation's data
export const pendingAnswer = (of: (data: any) => { pendingChange?: unknown } | null | undefined) => ({
  response: Approval,
  // biome-ignore lint/suspicious/noExplicitAny: the operation's data
  from: (data: any) => {
    const pending = of(data)?.pendingChange;
    return pending ? approvalJson(pending) : null;
  },
});
