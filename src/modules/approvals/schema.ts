import type { Permission } from '../../auth/permissions.js';
import { builder } from '../../graphql/builder.js';
import { actorOf, type GraphQLContext } from '../../graphql/context.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import { UserSchema } from '../accounts/entity.js';
import { UserType } from '../accounts/schema.js';
import { describeChanges } from '../audit/diff.js';
import { FlagSchema } from '../flags/entity.js';
import { FlagStateInput, FlagStateType, FlagType, stateChangesOf } from '../flags/schema.js';
import {
  OPEN_STATES,
  PENDING_CHANGE_KINDS,
  PENDING_CHANGE_STATES,
  type PendingChange,
  PendingChangeSchema,
  type PendingReview,
} from '../pending/entity.js';
import { proposalOf } from '../pending/service.js';
import { EnvironmentSchema, ProjectSchema } from '../projects/entity.js';
import { EnvironmentType, ProjectType } from '../projects/schema.js';
import { inEveryEnvironment } from '../projects/scopes.js';
import { SegmentSchema } from '../segments/entity.js';
import { SegmentType } from '../segments/schema.js';
import {
  type ChangeScheduler,
  cancelPendingChange,
  editPendingChange,
  environmentsOf,
  getPendingChange,
  listPendingChanges,
  requestFlagChange,
  reschedulePendingChange,
  reviewPendingChange,
  reviewsOf,
  setEnvironmentApproval,
} from './service.js';

const enumValues = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((v) => [v.replace('.', '_').toUpperCase(), { value: v }])) as Record<
    string,
    { value: T }
  >;

const PendingChangeKindEnum = builder.enumType('PendingChangeKind', {
  description: "What a pending change does: a flag's state in one environment, a flag's life, a segment.",
  values: enumValues(PENDING_CHANGE_KINDS),
});
const PendingChangeStateEnum = builder.enumType('PendingChangeState', {
  description:
    'PENDING: waiting for reviews. APPROVED: cleared, waiting for its time. APPLIED. REJECTED by a reviewer. STALE: what it was made against changed first (re-propose it). CANCELLED. EXPIRED: its time came before it was approved, so it did not run.',
  values: enumValues(PENDING_CHANGE_STATES),
});
const ReviewDecisionEnum = builder.enumType('ReviewDecision', {
  values: { APPROVE: { value: 'approve' }, REJECT: { value: 'reject' } } as const,
});

const userById = (ctx: GraphQLContext, id: string | null) => (id ? ctx.em.findOne(UserSchema, { id }) : null);

const ReviewType = builder.objectRef<PendingReview>('PendingChangeReview').implement({
  authScopes: { permission: 'flag:read' },
  fields: (t) => ({
    reviewer: t.field({
      type: UserType,
      nullable: true,
      description: 'Null once their account is gone.',
      resolve: (r, _a, ctx) => userById(ctx, r.reviewerUserId),
    }),
    reviewerTokenId: t.exposeID('reviewerTokenId', { nullable: true }),
    decision: t.field({ type: ReviewDecisionEnum, resolve: (r) => r.decision }),
    comment: t.exposeString('comment', { nullable: true }),
    round: t.exposeInt('round', { description: 'Editing a change starts a new round: only its reviews count.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const PendingChangeType = builder.objectRef<PendingChange>('PendingChange');

PendingChangeType.implement({
  authScopes: { permission: 'flag:read' },
  description:
    'A proposed change, stored with what it was made against: it applies when reviewers approve it (or at its time) only if that is still current; otherwise it becomes STALE.',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: PendingChangeKindEnum, resolve: (c) => c.kind }),
    state: t.field({ type: PendingChangeStateEnum, resolve: (c) => c.state }),
    project: t.field({
      type: ProjectType,
      resolve: async (c, _a, ctx) => ctx.em.findOneOrFail(ProjectSchema, { id: c.project.id }),
    }),
    environment: t.field({
      type: EnvironmentType,
      nullable: true,
      description: 'The environment of a change to a flag state.',
      resolve: (c, _a, ctx) => (c.environment ? ctx.em.findOne(EnvironmentSchema, { id: c.environment.id }) : null),
    }),
    environments: t.field({
      type: [EnvironmentType],
      description: 'Every environment whose evaluation the change alters.',
      complexity: { field: 1, multiplier: 10 },
      resolve: (c, _a, ctx) => environmentsOf(ctx.em, c),
    }),
    flagKey: t.exposeString('flagKey', { nullable: true }),
    flag: t.field({
      type: FlagType,
      nullable: true,
      description: 'The flag now; null for a segment change, or once the flag is deleted.',
      resolve: (c, _a, ctx) =>
        c.flagId ? ctx.em.findOne(FlagSchema, { id: c.flagId }, { populate: ['project'] }) : null,
    }),
    segmentKey: t.exposeString('segmentKey', { nullable: true }),
    segment: t.field({
      type: SegmentType,
      nullable: true,
      resolve: (c, _a, ctx) => (c.segmentId ? ctx.em.findOne(SegmentSchema, { id: c.segmentId }) : null),
    }),
    comment: t.exposeString('comment', { nullable: true }),
    author: t.field({
      type: UserType,
      nullable: true,
      description: 'The member who proposed it (null for a service token acting alone).',
      resolve: (c, _a, ctx) => userById(ctx, c.authorUserId),
    }),
    authorTokenId: t.exposeID('authorTokenId', { nullable: true }),
    before: t.expose('before', { type: 'JSON', description: 'What it changes, as it was when proposed.' }),
    proposed: t.expose('proposed', {
      type: 'JSON',
      description: 'The full proposed state (for a flag state, every field of it).',
    }),
    changes: t.stringList({
      description: 'The diff from before to proposed, as lines a person reads.',
      resolve: (c) => describeChanges(c.before, c.proposed),
    }),
    base: t.expose('base', {
      type: 'JSON',
      description: 'What it was made against: a version per environment id (or `segment`).',
    }),
    baseVersion: t.int({
      nullable: true,
      description: "The version of the flag's state (or the segment) it was made against, when it is one.",
      resolve: (c) => (c.environment ? c.base[c.environment.id] : c.base.segment) ?? null,
    }),
    requiredApprovals: t.exposeInt('requiredApprovals', {
      description: 'Approvals from distinct reviewers it needs (0: a scheduled change nobody reviews).',
    }),
    approvals: t.int({
      description: 'Approvals of the current round.',
      resolve: async (c, _a, ctx) =>
        (await reviewsOf(ctx.em, c)).filter((r) => r.round === c.round && r.decision === 'approve').length,
    }),
    reviews: t.field({
      type: [ReviewType],
      description: 'Every review, earlier rounds included, oldest first.',
      complexity: { field: 1, multiplier: 10 },
      resolve: (c, _a, ctx) => reviewsOf(ctx.em, c),
    }),
    round: t.exposeInt('round'),
    applyAt: t.expose('applyAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it applies (a scheduled change); null: when approved.',
    }),
    outcome: t.exposeString('outcome', { nullable: true, description: 'Why it ended as it did (stale, expired).' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const PendingChangePage = pageOf('PendingChange', PendingChangeType);

builder.objectFields(EnvironmentType, (t) => ({
  requiresApproval: t.exposeBoolean('requiresApproval', {
    description: 'Changes to what it evaluates wait for reviewers as pending changes (the kill switch never does).',
  }),
  minApprovals: t.exposeInt('minApprovals', { description: 'Approvals from distinct reviewers a change needs here.' }),
}));

/**
 * The answer of a change that did not apply (an environment it reaches requires approval, or it
 * was scheduled) is what it would have changed, as it still is, with the pending change it became.
 */
const PROPOSAL =
  'Set on the answer of a change that did not apply because an environment it reaches requires approval: the pending change it became (this object is as it was). Null otherwise.';
for (const type of [FlagStateType, FlagType, SegmentType] as const) {
  builder.objectFields(type as typeof FlagType, (t) => ({
    pendingChange: t.field({
      type: PendingChangeType,
      nullable: true,
      description: PROPOSAL,
      resolve: (answer) => proposalOf(answer),
    }),
  }));
}

builder.objectFields(FlagType, (t) => ({
  scheduledChanges: t.field({
    type: [PendingChangeType],
    description: 'Changes to this flag waiting for their time (pending or approved), soonest first.',
    complexity: { field: 1, multiplier: 10 },
    resolve: (flag, _a, ctx) =>
      ctx.em.find(
        PendingChangeSchema,
        { flagId: flag.id, state: { $in: [...OPEN_STATES] }, applyAt: { $ne: null } },
        { populate: ['project', 'environment'], orderBy: { applyAt: 'asc' } },
      ),
  }),
}));

builder.queryFields((t) => ({
  pendingChanges: t.field({
    type: PendingChangePage,
    description: "The organization's pending changes (approval requests, scheduled changes), newest first.",
    authScopes: { permission: 'flag:read' },
    args: {
      ...pageArgs,
      projectId: t.arg.id({ required: false }),
      states: t.arg({ type: [PendingChangeStateEnum], required: false, description: 'Only these states.' }),
      environmentId: t.arg.id({ required: false, description: 'Only changes that reach this environment.' }),
      flagId: t.arg.id({ required: false }),
      authorId: t.arg.id({ required: false, description: 'Only changes this member proposed.' }),
      scheduled: t.arg.boolean({
        required: false,
        description: 'true: only scheduled changes; false: only those that apply when approved.',
      }),
    },
    resolve: (_r, args, ctx) =>
      listPendingChanges(ctx.em, actorOf(ctx), {
        ...args,
        projectId: args.projectId?.toString(),
        environmentId: args.environmentId?.toString(),
        flagId: args.flagId?.toString(),
        authorUserId: args.authorId?.toString(),
      }),
  }),
  pendingChange: t.field({
    type: PendingChangeType,
    authScopes: { permission: 'flag:read' },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => getPendingChange(ctx.em, actorOf(ctx), id.toString()),
  }),
}));

/**
 * What acting on a pending change needs: `permission`, and, for environment-narrowed credentials,
 * in every environment the change reaches (a token narrowed to dev touches no change to production).
 */
const changeScopes = async (ctx: GraphQLContext, id: string, permission: Permission) => {
  if (!ctx.principal?.environmentIds) return { permission };
  const change = await ctx.em.findOne(PendingChangeSchema, { id, organizationId: ctx.principal.organizationId });
  return change ? inEveryEnvironment(permission, change.environmentIds) : { permission };
};

const now = (ctx: GraphQLContext) => new Date(ctx.clock.now());
const scheduler = (ctx: GraphQLContext) => ctx.services.changeScheduler;

builder.mutationFields((t) => ({
  requestFlagChange: t.field({
    type: PendingChangeType,
    description:
      "Proposes a change to a flag's state in one environment, with a comment for its reviewers and/or a time to apply at (applyAt: a scheduled change, also where the environment does not require approval). Name the flag by flagId or by projectId and flagKey.",
    authScopes: (_root, { environmentId }) => ({
      environmentPermission: { permission: 'flag:write', environmentId: environmentId.toString() },
    }),
    args: {
      flagId: t.arg.id({ required: false }),
      projectId: t.arg.id({ required: false }),
      flagKey: t.arg.string({ required: false }),
      environmentId: t.arg.id({ required: true }),
      expectedVersion: t.arg.int({ required: true, description: 'The state version the change is based on.' }),
      input: t.arg({ type: FlagStateInput, required: true }),
      comment: t.arg.string({ required: false }),
      applyAt: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: (_root, args, ctx) =>
      requestFlagChange(
        ctx.em,
        actorOf(ctx),
        scheduler(ctx),
        {
          by: { flagId: args.flagId?.toString(), projectId: args.projectId?.toString(), flagKey: args.flagKey },
          environmentId: args.environmentId.toString(),
          expectedVersion: args.expectedVersion,
          changes: stateChangesOf(args.input),
          comment: args.comment,
          applyAt: args.applyAt,
        },
        now(ctx),
      ),
  }),
  editPendingChange: t.field({
    type: PendingChangeType,
    description:
      "Its author replaces what a flag-state change proposes, against the flag's state now (expectedVersion): approvals given so far no longer count.",
    authScopes: (_root, { id }, ctx) => changeScopes(ctx, id.toString(), 'flag:write'),
    args: {
      id: t.arg.id({ required: true }),
      expectedVersion: t.arg.int({ required: true }),
      input: t.arg({ type: FlagStateInput, required: true }),
      comment: t.arg.string({ required: false }),
      applyAt: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: (_root, args, ctx) =>
      editPendingChange(
        ctx.em,
        actorOf(ctx),
        scheduler(ctx),
        args.id.toString(),
        {
          expectedVersion: args.expectedVersion,
          changes: stateChangesOf(args.input),
          comment: args.comment,
          applyAt: args.applyAt,
        },
        now(ctx),
      ),
  }),
  reviewPendingChange: t.field({
    type: PendingChangeType,
    description:
      'Approves or rejects a change (never your own; the same reviewer counts once). The approval that reaches what it requires applies it, only if what it was made against is still current; otherwise it becomes STALE.',
    authScopes: (_root, { id }, ctx) => changeScopes(ctx, id.toString(), 'approval:review'),
    args: {
      id: t.arg.id({ required: true }),
      decision: t.arg({ type: ReviewDecisionEnum, required: true }),
      comment: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      reviewPendingChange(
        ctx.em,
        actorOf(ctx),
        args.id.toString(),
        { decision: args.decision, comment: args.comment },
        now(ctx),
      ),
  }),
  cancelPendingChange: t.field({
    type: PendingChangeType,
    description: 'Its author (or a reviewer) withdraws a change: it will not apply.',
    authScopes: (_root, { id }, ctx) => changeScopes(ctx, id.toString(), 'flag:read'),
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => cancelPendingChange(ctx.em, actorOf(ctx), id.toString()),
  }),
  reschedulePendingChange: t.field({
    type: PendingChangeType,
    description: 'A new time for a scheduled change; where it requires approval, its approvals are reset.',
    authScopes: (_root, { id }, ctx) => changeScopes(ctx, id.toString(), 'flag:write'),
    args: { id: t.arg.id({ required: true }), applyAt: t.arg({ type: 'DateTime', required: true }) },
    resolve: (_root, { id, applyAt }, ctx) =>
      reschedulePendingChange(ctx.em, actorOf(ctx), scheduler(ctx), id.toString(), applyAt, now(ctx)),
  }),
  setEnvironmentApproval: t.field({
    type: EnvironmentType,
    description:
      'Whether changes to what an environment evaluates wait for reviewers, and how many approvals they need (admins).',
    authScopes: (_root, { environmentId }) => ({
      environmentPermission: { permission: 'approval:review', environmentId: environmentId.toString() },
    }),
    args: {
      environmentId: t.arg.id({ required: true }),
      requiresApproval: t.arg.boolean({ required: true }),
      minApprovals: t.arg.int({ required: false, description: '1-10; unchanged when omitted (default 1).' }),
    },
    resolve: (_root, args, ctx) =>
      setEnvironmentApproval(ctx.em, actorOf(ctx), args.environmentId.toString(), {
        requiresApproval: args.requiresApproval,
        minApprovals: args.minApprovals,
      }),
  }),
}));

declare module '../../graphql/context.js' {
  interface ContextServices {
    /** Where scheduled changes wait for their time (modules/approvals/scheduler.ts). */
    changeScheduler: ChangeScheduler;
  }
}
