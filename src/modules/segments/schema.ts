import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import { ProjectSchema } from '../projects/entity.js';
import { ProjectType } from '../projects/schema.js';
import { inEveryEnvironmentOf } from '../projects/scopes.js';
import { SegmentRuleInput, SegmentRuleType, toClause } from '../targeting/schema.js';
import { type Segment, SegmentSchema } from './entity.js';
import {
  createSegment,
  deleteSegment,
  getSegmentByKey,
  listSegments,
  type SegmentRef,
  updateSegment,
} from './service.js';

export const SegmentType = builder.objectRef<Segment>('Segment').implement({
  authScopes: { permission: 'segment:read' },
  description: 'A reusable audience of a project, matched by segmentMatch clauses; the same in every environment.',
  fields: (t) => ({
    id: t.exposeID('id'),
    key: t.exposeString('key'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    included: t.exposeStringList('included', {
      description: 'Context keys that are always members (wins over excluded).',
    }),
    excluded: t.exposeStringList('excluded', {
      description: 'Context keys that are never members, whatever the rules say.',
    }),
    rules: t.field({
      type: [SegmentRuleType],
      description: 'A context matching any rule is a member.',
      resolve: (s) => s.rules,
    }),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const SegmentPage = pageOf('Segment', SegmentType);

builder.objectFields(ProjectType, (t) => ({
  segments: t.field({
    type: SegmentPage,
    authScopes: { permission: 'segment:read' },
    args: pageArgs,
    resolve: (project, args, ctx) => listSegments(ctx.em, project, args),
  }),
  segment: t.field({
    type: SegmentType,
    authScopes: { permission: 'segment:read' },
    args: { key: t.arg.string({ required: true }) },
    resolve: (project, { key }, ctx) => getSegmentByKey(ctx.em, project, key),
  }),
}));

const CreateSegmentInput = builder.inputType('CreateSegmentInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: 'Immutable; segmentMatch clauses name the segment by it.' }),
    name: t.string({ required: false, description: 'Defaults to the key.' }),
    description: t.string({ required: false }),
    included: t.stringList({ required: false }),
    excluded: t.stringList({ required: false }),
    rules: t.field({ type: [SegmentRuleInput], required: false }),
  }),
});
const UpdateSegmentInput = builder.inputType('UpdateSegmentInput', {
  description: 'The parts to replace; omitted parts are kept.',
  fields: (t) => ({
    name: t.string({ required: false }),
    description: t.string({ required: false }),
    included: t.stringList({ required: false }),
    excluded: t.stringList({ required: false }),
    rules: t.field({ type: [SegmentRuleInput], required: false }),
  }),
});

type RuleArg = { id?: string | null; clauses: Parameters<typeof toClause>[0][] };
const toRules = (rules: RuleArg[] | null | undefined) =>
  rules?.map((r) => ({ id: r.id ?? null, clauses: r.clauses.map(toClause) }));

const projectOfSegment = (ctx: Parameters<typeof inEveryEnvironmentOf>[0], by: SegmentRef) => async () =>
  by.segmentId
    ? (
        await ctx.em.findOne(
          SegmentSchema,
          { id: by.segmentId, project: { organization: ctx.principal?.organizationId } },
          { populate: ['project'] },
        )
      )?.project
    : by.projectId
      ? ctx.em.findOne(ProjectSchema, { id: by.projectId, organization: ctx.principal?.organizationId })
      : undefined;

const SEGMENT_REF = 'Name the segment by id, or by projectId and its key.';
const refOf = (args: { id?: unknown; projectId?: unknown; key?: string | null }): SegmentRef => ({
  segmentId: args.id?.toString(),
  projectId: args.projectId?.toString(),
  key: args.key,
});
const segmentRefArgs = builder.args((t) => ({
  id: t.id({ required: false }),
  projectId: t.id({ required: false }),
  key: t.string({ required: false }),
}));

builder.mutationFields((t) => ({
  createSegment: t.field({
    type: SegmentType,
    authScopes: { permission: 'segment:write' },
    args: { projectId: t.arg.id({ required: true }), input: t.arg({ type: CreateSegmentInput, required: true }) },
    resolve: (_root, { projectId, input }, ctx) =>
      createSegment(ctx.em, actorOf(ctx), projectId.toString(), { ...input, rules: toRules(input.rules) }),
  }),
  updateSegment: t.field({
    type: SegmentType,
    description: `Changes a segment; with expectedVersion, a stale version is refused with CONFLICT. ${SEGMENT_REF}`,
    authScopes: (_root, args, ctx) => inEveryEnvironmentOf(ctx, 'segment:write', projectOfSegment(ctx, refOf(args))),
    args: {
      ...segmentRefArgs,
      expectedVersion: t.arg.int({ required: false }),
      input: t.arg({ type: UpdateSegmentInput, required: true }),
    },
    resolve: (_root, { expectedVersion, input, ...ref }, ctx) =>
      updateSegment(ctx.em, actorOf(ctx), refOf(ref), { ...input, rules: toRules(input.rules) }, expectedVersion),
  }),
  deleteSegment: t.field({
    type: SegmentType,
    description: `Deletes a segment; refused with CONFLICT while a flag's rules use it. ${SEGMENT_REF}`,
    authScopes: (_root, args, ctx) => inEveryEnvironmentOf(ctx, 'segment:write', projectOfSegment(ctx, refOf(args))),
    args: segmentRefArgs,
    resolve: (_root, args, ctx) => deleteSegment(ctx.em, actorOf(ctx), refOf(args)),
  }),
}));
