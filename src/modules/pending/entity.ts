import { EntitySchema } from '@mikro-orm/core';
import { createdAt, timestamps } from '../../db/columns.js';
import { type Environment, EnvironmentSchema, type Project, ProjectSchema } from '../projects/entity.js';

/**
 * A pending change (ARCHITECTURE.md, "Work that happens later"): a proposed change to a flag's
 * state (or to what a flag or segment is), stored with the versions it was made against and the
 * full proposed state. It applies later, when reviewers approve it or when its time comes, in one
 * transaction and only if those versions are still current; otherwise it becomes `stale`.
 *
 * Flags and segments are named by id and key without foreign keys: a pending change to delete a
 * flag outlives the flag it deleted, as its record.
 */
export const PENDING_CHANGE_KINDS = [
  'flag.state',
  'flag.archive',
  'flag.restore',
  'flag.delete',
  'segment.update',
] as const;
export type PendingChangeKind = (typeof PENDING_CHANGE_KINDS)[number];

/**
 * pending: waiting for reviews; approved: cleared, waiting for its time; applied; rejected by a
 * reviewer; stale: what it was made against changed before it applied (re-propose it); cancelled
 * by its author; expired: its time came before it was approved, so it did not run.
 */
export const PENDING_CHANGE_STATES = [
  'pending',
  'approved',
  'applied',
  'rejected',
  'stale',
  'cancelled',
  'expired',
] as const;
export type PendingChangeState = (typeof PENDING_CHANGE_STATES)[number];

/** States a change can still leave (edited, reviewed, cancelled, applied). */
export const OPEN_STATES: readonly PendingChangeState[] = ['pending', 'approved'];

export interface PendingChange {
  id: string;
  organizationId: string;
  project: Project;
  kind: PendingChangeKind;
  state: PendingChangeState;
  flagId: string | null;
  flagKey: string | null;
  segmentId: string | null;
  segmentKey: string | null;
  /** The one environment of a flag-state change; null for changes that reach several. */
  environment: Environment | null;
  /** Every environment whose evaluation the change alters (those that require approval govern it). */
  environmentIds: string[];
  /** What it was made against: a version per environment id (a flag's states) or under `segment`. */
  base: Record<string, number>;
  /** What it changes, as it was when proposed (the diff is from this to `proposed`). */
  before: Record<string, unknown>;
  /** The full proposed state (for flag.state, every field of the flag's state). */
  proposed: Record<string, unknown>;
  comment: string | null;
  authorUserId: string | null;
  authorTokenId: string | null;
  authorKind: string;
  /** Approvals from distinct reviewers it needs (0: none, a scheduled change in an environment that does not require approval). */
  requiredApprovals: number;
  /** Bumped by every edit: only the reviews of the current round count. */
  round: number;
  applyAt: Date | null;
  /** Why it ended as it did (stale, expired…), in words. */
  outcome: string | null;
  resolvedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type ReviewDecision = 'approve' | 'reject';

export interface PendingReview {
  id: string;
  change: PendingChange;
  round: number;
  reviewerUserId: string;
  reviewerTokenId: string | null;
  decision: ReviewDecision;
  comment: string | null;
  createdAt: Date;
}

export const PendingChangeSchema = new EntitySchema<PendingChange>({
  name: 'PendingChange',
  tableName: 'pending_changes',
  properties: {
    id: { type: 'uuid', primary: true },
    organizationId: { type: 'uuid', index: true },
    project: { kind: 'm:1', entity: () => ProjectSchema, deleteRule: 'cascade', index: true },
    kind: { type: 'string', length: 30 },
    state: { type: 'string', length: 20 },
    flagId: { type: 'uuid', nullable: true, index: true },
    flagKey: { type: 'string', length: 100, nullable: true },
    segmentId: { type: 'uuid', nullable: true },
    segmentKey: { type: 'string', length: 100, nullable: true },
    environment: { kind: 'm:1', entity: () => EnvironmentSchema, deleteRule: 'cascade', nullable: true },
    environmentIds: { type: 'string[]', default: '{}' },
    base: { type: 'json' },
    before: { type: 'json' },
    proposed: { type: 'json' },
    comment: { type: 'text', nullable: true },
    authorUserId: { type: 'uuid', nullable: true },
    authorTokenId: { type: 'uuid', nullable: true },
    authorKind: { type: 'string', length: 30 },
    requiredApprovals: { type: 'integer' },
    round: { type: 'integer', default: 1 },
    applyAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    outcome: { type: 'text', nullable: true },
    resolvedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    ...timestamps,
  },
});

export const PendingReviewSchema = new EntitySchema<PendingReview>({
  name: 'PendingReview',
  tableName: 'pending_reviews',
  properties: {
    id: { type: 'uuid', primary: true },
    change: { kind: 'm:1', entity: () => PendingChangeSchema, deleteRule: 'cascade' },
    round: { type: 'integer' },
    reviewerUserId: { type: 'uuid' },
    reviewerTokenId: { type: 'uuid', nullable: true },
    decision: { type: 'string', length: 10 },
    comment: { type: 'text', nullable: true },
    createdAt,
  },
  // The same reviewer counts once per round.
  uniques: [{ properties: ['change', 'round', 'reviewerUserId'] }],
});

/** Whether a mutation's answer is a pending change rather than what it changes (the GraphQL unions ask). */
export const isPendingChange = (value: unknown): value is PendingChange =>
  typeof value === 'object' && value !== null && 'requiredApprovals' in value && 'round' in value;
