import { FLAG_KINDS, type Variation } from '../../evaluation/index.js';
import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import { ProjectSchema } from '../projects/entity.js';
import { EnvironmentType, ProjectType } from '../projects/schema.js';
import { inEveryEnvironment, inEveryEnvironmentOf } from '../projects/scopes.js';
import {
  FlagRuleInput,
  FlagRuleType,
  FlagTargetInput,
  FlagTargetType,
  PrerequisiteInput,
  PrerequisiteType,
  ServeInput,
  ServeType,
  toRule,
  toServe,
} from '../targeting/schema.js';
import { type Flag, FlagSchema, type FlagState } from './entity.js';
import { archiveFlag, createFlag, deleteFlag, type FlagRef, getFlagByKey, listFlags, updateFlag } from './service.js';
// state.ts also registers the hook that gives a new environment a state for every flag.
import { getFlagState, killFlag, listFlagStates, promoteFlag, updateFlagState } from './state.js';

export const FlagKindEnum = builder.enumType('FlagKind', { values: FLAG_KINDS });
export const FlagType = builder.objectRef<Flag>('Flag');
export const FlagStateType = builder.objectRef<FlagState>('FlagState');

const VariationType = builder.objectRef<Variation>('Variation').implement({
  fields: (t) => ({
    value: t.field({ type: 'JSON', nullable: true, resolve: (v) => v.value }),
    name: t.string({ nullable: true, resolve: (v) => v.name ?? null }),
  }),
});

FlagType.implement({
  authScopes: { permission: 'flag:read' },
  fields: (t) => ({
    id: t.exposeID('id'),
    key: t.exposeString('key'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    kind: t.field({ type: FlagKindEnum, resolve: (f) => f.kind }),
    variations: t.field({
      type: [VariationType],
      description: 'Referred to by index everywhere else.',
      resolve: (f) => f.variations,
    }),
    tags: t.exposeStringList('tags'),
    clientSideAvailable: t.exposeBoolean('clientSideAvailable'),
    temporary: t.exposeBoolean('temporary'),
    archived: t.boolean({ resolve: (f) => f.archivedAt !== null }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    environments: t.field({
      type: [FlagStateType],
      description: "The flag's state in every environment of its project, in display order.",
      complexity: { field: 1, multiplier: 10 },
      resolve: (flag, _args, ctx) => listFlagStates(ctx.em, flag),
    }),
    state: t.field({
      type: FlagStateType,
      description: "The flag's state in one environment.",
      args: { environmentKey: t.arg.string({ required: true }) },
      resolve: (flag, { environmentKey }, ctx) => getFlagState(ctx.em, flag, { key: environmentKey }),
    }),
    environmentState: t.field({
      type: FlagStateType,
      description: "The flag's state in one environment of its project, named by the environment's id.",
      args: { environmentId: t.arg.id({ required: true }) },
      resolve: (flag, { environmentId }, ctx) => getFlagState(ctx.em, flag, { id: environmentId.toString() }),
    }),
  }),
});

FlagStateType.implement({
  authScopes: { permission: 'flag:read' },
  description: "A flag's targeting in one environment.",
  fields: (t) => ({
    environment: t.field({ type: EnvironmentType, resolve: (s) => s.environment }),
    environmentId: t.id({ resolve: (s) => s.environment.id }),
    on: t.exposeBoolean('on'),
    offVariation: t.exposeInt('offVariation', { description: 'Served while the flag is off or a prerequisite fails.' }),
    targets: t.field({ type: [FlagTargetType], resolve: (s) => s.targets }),
    rules: t.field({ type: [FlagRuleType], resolve: (s) => s.rules }),
    fallthrough: t.field({
      type: ServeType,
      description: 'Served when no target or rule matches.',
      resolve: (s) => s.fallthrough,
    }),
    prerequisites: t.field({ type: [PrerequisiteType], resolve: (s) => s.prerequisites }),
    version: t.exposeInt('version', { description: 'Send it back as expectedVersion to change this state.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const FlagPage = pageOf('Flag', FlagType);

builder.objectFields(ProjectType, (t) => ({
  flags: t.field({
    type: FlagPage,
    authScopes: { permission: 'flag:read' },
    args: {
      ...pageArgs,
      tag: t.arg.string({ required: false, description: 'Only flags with this tag.' }),
      archived: t.arg.boolean({
        required: false,
        defaultValue: false,
        description: 'false (default): live flags; true: archived ones; null: both.',
      }),
      search: t.arg.string({
        required: false,
        description: 'Case-insensitive substring of the key, name or description.',
      }),
    },
    resolve: (project, args, ctx) => listFlags(ctx.em, project, args),
  }),
  flag: t.field({
    type: FlagType,
    authScopes: { permission: 'flag:read' },
    args: { key: t.arg.string({ required: true }) },
    resolve: (project, { key }, ctx) => getFlagByKey(ctx.em, project, key),
  }),
}));

const VariationInput = builder.inputType('VariationInput', {
  fields: (t) => ({
    value: t.field({ type: 'JSON', required: false, description: "Must match the flag's kind." }),
    name: t.string({ required: false }),
  }),
});
const CreateFlagInput = builder.inputType('CreateFlagInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: 'Immutable.' }),
    name: t.string({ required: false, description: 'Defaults to the key.' }),
    description: t.string({ required: false }),
    kind: t.field({ type: FlagKindEnum, required: true }),
    variations: t.field({
      type: [VariationInput],
      required: false,
      description: 'Boolean flags default to [true, false].',
    }),
    tags: t.stringList({ required: false }),
    clientSideAvailable: t.boolean({ required: false }),
    temporary: t.boolean({ required: false, description: 'Default true.' }),
  }),
});
const UpdateFlagInput = builder.inputType('UpdateFlagInput', {
  fields: (t) => ({
    name: t.string({ required: false }),
    description: t.string({ required: false }),
    tags: t.stringList({ required: false }),
    variations: t.field({
      type: [VariationInput],
      required: false,
      description: "Checked against every environment's targeting.",
    }),
    clientSideAvailable: t.boolean({ required: false }),
    temporary: t.boolean({ required: false }),
  }),
});
export const FlagStateInput = builder.inputType('FlagStateInput', {
  description: 'The parts of the state to replace; omitted parts are kept.',
  fields: (t) => ({
    on: t.boolean({ required: false }),
    offVariation: t.int({ required: false }),
    targets: t.field({ type: [FlagTargetInput], required: false }),
    rules: t.field({ type: [FlagRuleInput], required: false }),
    fallthrough: t.field({ type: ServeInput, required: false }),
    prerequisites: t.field({ type: [PrerequisiteInput], required: false }),
  }),
});

/** A FlagStateInput as the service's changes. */
export const stateChangesOf = (input: typeof FlagStateInput.$inferInput) => ({
  on: input.on,
  offVariation: input.offVariation,
  targets: input.targets?.map((target) => ({ variation: target.variation, values: target.values })),
  rules: input.rules?.map((rule, i) => toRule(rule, `rules[${i}]`)),
  fallthrough: input.fallthrough ? toServe(input.fallthrough, 'fallthrough') : null,
  prerequisites: input.prerequisites?.map((p) => ({ key: p.key, variation: p.variation })),
});

const toVariations = (input: { value?: unknown; name?: string | null }[] | null | undefined): Variation[] | null =>
  input ? input.map((v) => ({ value: v.value, ...(v.name != null ? { name: v.name } : {}) })) : null;

/** The project of a flag, for scopes that must cover all of its environments. */
const projectOfFlag = (ctx: Parameters<typeof inEveryEnvironmentOf>[0], by: FlagRef) => async () =>
  by.flagId
    ? (
        await ctx.em.findOne(
          FlagSchema,
          { id: by.flagId, project: { organization: ctx.principal?.organizationId } },
          { populate: ['project'] },
        )
      )?.project
    : by.projectId
      ? ctx.em.findOne(ProjectSchema, { id: by.projectId, organization: ctx.principal?.organizationId })
      : undefined;

const FLAG_REF = 'Name the flag by id, or by projectId and its key.';
const refOf = (args: { id?: unknown; projectId?: unknown; key?: string | null }): FlagRef => ({
  flagId: args.id?.toString(),
  projectId: args.projectId?.toString(),
  flagKey: args.key,
});

/** Archiving or deleting a flag evaluated in the last hour is refused (CONFLICT) unless forced. */
const forceArg = (t: Parameters<Parameters<typeof builder.mutationFields>[0]>[0]) =>
  t.arg.boolean({
    required: false,
    defaultValue: false,
    description: 'Needed when the flag was evaluated in the last hour (it is still in use).',
  });

builder.mutationFields((t) => ({
  createFlag: t.field({
    type: FlagType,
    description: 'Creates a flag, off in every environment of the project.',
    authScopes: { permission: 'flag:write' },
    args: { projectId: t.arg.id({ required: true }), input: t.arg({ type: CreateFlagInput, required: true }) },
    resolve: (_root, { projectId, input }, ctx) =>
      createFlag(ctx.em, actorOf(ctx), projectId.toString(), { ...input, variations: toVariations(input.variations) }),
  }),
  updateFlag: t.field({
    type: FlagType,
    description: FLAG_REF,
    authScopes: (_root, args, ctx) => inEveryEnvironmentOf(ctx, 'flag:write', projectOfFlag(ctx, refOf(args))),
    args: {
      id: t.arg.id({ required: false }),
      projectId: t.arg.id({ required: false }),
      key: t.arg.string({ required: false }),
      input: t.arg({ type: UpdateFlagInput, required: true }),
    },
    resolve: (_root, { input, ...ref }, ctx) =>
      updateFlag(ctx.em, actorOf(ctx), refOf(ref), { ...input, variations: toVariations(input.variations) }),
  }),
  archiveFlag: t.field({
    type: FlagType,
    description: "Removes the flag from every environment's evaluation; its targeting is kept for restoreFlag.",
    authScopes: (_root, { id }, ctx) =>
      inEveryEnvironmentOf(ctx, 'flag:write', projectOfFlag(ctx, { flagId: id.toString() })),
    args: { id: t.arg.id({ required: true }), force: forceArg(t) },
    resolve: (_root, { id, force }, ctx) =>
      archiveFlag(ctx.em, actorOf(ctx), id.toString(), true, { force: force ?? false }),
  }),
  restoreFlag: t.field({
    type: FlagType,
    authScopes: (_root, { id }, ctx) =>
      inEveryEnvironmentOf(ctx, 'flag:write', projectOfFlag(ctx, { flagId: id.toString() })),
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => archiveFlag(ctx.em, actorOf(ctx), id.toString(), false),
  }),
  deleteFlag: t.field({
    type: FlagType,
    description: `Deletes the flag and its targeting everywhere; refused while another flag has it as a prerequisite. ${FLAG_REF}`,
    authScopes: (_root, args, ctx) => inEveryEnvironmentOf(ctx, 'flag:delete', projectOfFlag(ctx, refOf(args))),
    args: {
      id: t.arg.id({ required: false }),
      projectId: t.arg.id({ required: false }),
      key: t.arg.string({ required: false }),
      force: forceArg(t),
    },
    resolve: (_root, args, ctx) => deleteFlag(ctx.em, actorOf(ctx), refOf(args), { force: args.force ?? false }),
  }),
  updateFlagState: t.field({
    type: FlagStateType,
    description: "Changes a flag's targeting in one environment. Name the flag by flagId or by projectId and flagKey.",
    authScopes: (_root, { environmentId }) => ({
      environmentPermission: { permission: 'flag:write', environmentId: environmentId.toString() },
    }),
    args: {
      flagId: t.arg.id({ required: false }),
      projectId: t.arg.id({ required: false }),
      flagKey: t.arg.string({ required: false }),
      environmentId: t.arg.id({ required: true }),
      expectedVersion: t.arg.int({
        required: true,
        description: 'The state version the change is based on; a stale one is refused with CONFLICT.',
      }),
      input: t.arg({ type: FlagStateInput, required: true }),
    },
    resolve: (_root, args, ctx) => {
      const changes = stateChangesOf(args.input);
      const by = refOf({ id: args.flagId, projectId: args.projectId, key: args.flagKey });
      return updateFlagState(ctx.em, actorOf(ctx), by, args.environmentId.toString(), args.expectedVersion, changes);
    },
  }),
  killFlag: t.field({
    type: [FlagStateType],
    description:
      'Turns the flag off in one environment, or in all of them when environmentId is omitted. Name the flag by flagId or by projectId and flagKey.',
    authScopes: (_root, { flagId, projectId, flagKey, environmentId }, ctx) =>
      environmentId
        ? { environmentPermission: { permission: 'flag:write', environmentId: environmentId.toString() } }
        : inEveryEnvironmentOf(ctx, 'flag:write', projectOfFlag(ctx, refOf({ id: flagId, projectId, key: flagKey }))),
    args: {
      flagId: t.arg.id({ required: false }),
      projectId: t.arg.id({ required: false }),
      flagKey: t.arg.string({ required: false }),
      environmentId: t.arg.id({ required: false }),
    },
    resolve: (_root, { flagId, projectId, flagKey, environmentId }, ctx) =>
      killFlag(ctx.em, actorOf(ctx), refOf({ id: flagId, projectId, key: flagKey }), environmentId?.toString()),
  }),
  promoteFlag: t.field({
    type: [FlagStateType],
    description:
      "Copies the flag's targeting from one environment to others, all or nothing. Name the flag by flagId or by projectId and flagKey.",
    authScopes: (_root, { toEnvironmentIds }) => ({
      $all: { permission: 'flag:read', ...inEveryEnvironment('flag:write', toEnvironmentIds.map(String)) },
    }),
    args: {
      flagId: t.arg.id({ required: false }),
      projectId: t.arg.id({ required: false }),
      flagKey: t.arg.string({ required: false }),
      fromEnvironmentId: t.arg.id({ required: true }),
      toEnvironmentIds: t.arg.idList({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      promoteFlag(
        ctx.em,
        actorOf(ctx),
        refOf({ id: args.flagId, projectId: args.projectId, key: args.flagKey }),
        args.fromEnvironmentId.toString(),
        args.toEnvironmentIds.map(String),
      ),
  }),
}));
