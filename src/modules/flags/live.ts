import { hasPermission, type Principal } from '../../auth/principal.js';
import { asDomainError } from '../../db/errors.js';
import { DomainError, ForbiddenError, NotFoundError, shuttingDown, UnauthenticatedError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { actorOf, type GraphQLContext } from '../../graphql/context.js';
import type { ChangeKind } from '../../realtime/changes.js';
import type { FlagDelta, Hub, HubUpdate } from '../../realtime/hub.js';
import { EventQueue, StreamEnded } from '../../realtime/queue.js';
import { type Environment, EnvironmentSchema, ProjectSchema } from '../projects/entity.js';
import { EnvironmentType } from '../projects/schema.js';
import { type Flag, FlagSchema, type FlagState, FlagStateSchema } from './entity.js';
import { FlagStateType, FlagType } from './schema.js';

/**
 * `flagChanged`, the dashboards' subscription (graphql-ws, GraphQL over SSE): every change to a
 * flag of a project, one event per flag and environment, from the hub's snapshot updates.
 * Authorized like a query, and again on every event: whoever lost access gets one error and
 * the stream ends. Fields read the database only when selected.
 */

export interface FlagChangeEvent {
  projectId: string;
  environmentId: string;
  delta: FlagDelta;
  update: HubUpdate;
}

const FLAG_CHANGE_KINDS = [
  'created',
  'updated',
  'state',
  'archived',
  'restored',
  'deleted',
  'killed',
  'promoted',
] as const;
const FlagChangeKindEnum = builder.enumType('FlagChangeKind', {
  description: 'What happened to the flag.',
  values: Object.fromEntries(FLAG_CHANGE_KINDS.map((k) => [k.toUpperCase(), { value: `flag.${k}` }])) as Record<
    Uppercase<(typeof FLAG_CHANGE_KINDS)[number]>,
    { value: ChangeKind }
  >,
});

export const ChangeActorType = builder
  .objectRef<{ userId: string | null; tokenId: string | null }>('ChangeActor')
  .implement({
    description:
      'Who made a change: the member, the access token used, or both (a token acting on behalf of a member).',
    fields: (t) => ({
      userId: t.id({ nullable: true, resolve: (a) => a.userId }),
      tokenId: t.id({ nullable: true, resolve: (a) => a.tokenId }),
    }),
  });

const FlagChangeType = builder.objectRef<FlagChangeEvent>('FlagChange').implement({
  description: 'One flag changed in one environment.',
  fields: (t) => ({
    flagKey: t.string({ resolve: (e) => e.delta.key }),
    flag: t.field({
      type: FlagType,
      nullable: true,
      description: 'The flag now; null once it is deleted.',
      resolve: (e, _a, ctx): Promise<Flag | null> =>
        ctx.em.findOne(FlagSchema, { project: e.projectId, key: e.delta.key }),
    }),
    environment: t.field({
      type: EnvironmentType,
      resolve: async (e, _a, ctx): Promise<Environment> => {
        const environment = await ctx.em.findOne(EnvironmentSchema, { id: e.environmentId });
        if (!environment) throw new NotFoundError('environment');
        return environment;
      },
    }),
    state: t.field({
      type: FlagStateType,
      nullable: true,
      description:
        "The flag's new state in this environment; null when it no longer evaluates there (archived or deleted).",
      resolve: (e, _a, ctx): Promise<FlagState | null> | null =>
        e.delta.config
          ? ctx.em.findOne(
              FlagStateSchema,
              { flag: { project: e.projectId, key: e.delta.key }, environment: e.environmentId },
              { populate: ['environment'] },
            )
          : null,
    }),
    version: t.int({
      description: "The environment's version after the change (the SSE event id).",
      resolve: (e) => e.update.current?.version ?? e.update.previous?.version ?? 0,
    }),
    kind: t.field({ type: FlagChangeKindEnum, resolve: (e) => e.delta.kind }),
    changedBy: t.field({
      type: ChangeActorType,
      nullable: true,
      description: 'Null for changes this node learned of by resynchronising after a lost connection.',
      resolve: (e) => e.update.change?.actor ?? null,
    }),
    changedAt: t.field({
      type: 'DateTime',
      description:
        "When the change was made, by the database's clock (the same on every node and every subscriber). For a change this node learned of by resynchronising after a lost connection, when it applied it.",
      resolve: (e) => e.update.at,
    }),
  }),
});

/**
 * Who the subscriber is now. Roles, memberships and tokens are read again on every event, once
 * per credential per update however many streams share it.
 */
export function principalAt(
  ctx: GraphQLContext,
  update: { memo: Map<string, unknown> },
): Promise<Principal | DomainError> {
  const key = `principal:${ctx.credentialId}`;
  let known = update.memo.get(key) as Promise<Principal | DomainError> | undefined;
  if (!known) {
    known = ctx
      .principalNow()
      .catch((e: unknown) => asDomainError(e) ?? new UnauthenticatedError('the credential could not be checked'));
    update.memo.set(key, known);
  }
  return known;
}

/** The project a live subscription names, in the subscriber's organization; refused while the node shuts down. */
export async function subscribedProject(ctx: GraphQLContext, projectId: string) {
  const principal = actorOf(ctx);
  const project = /^[0-9a-f-]{36}$/i.test(projectId)
    ? await ctx.em.findOne(ProjectSchema, { id: projectId, organization: principal.organizationId })
    : null;
  if (!project) throw new NotFoundError('project');
  if (ctx.services.hub.isClosing) throw shuttingDown();
  return project;
}

/**
 * The queue of a project's live subscription. Before each event is delivered the subscriber is
 * checked again (still in the organization, still allowed `flag:read`): a refusal ends the stream
 * with one error. Each delivered event gets a unit of work of its own, so its fields load what is
 * current, not what the first event saw.
 */
export function recheckedQueue<T extends object>(
  ctx: GraphQLContext,
  updateOf: (item: T) => { memo: Map<string, unknown> },
): EventQueue<T | StreamEnded> {
  const { organizationId } = actorOf(ctx);
  const queue: EventQueue<T | StreamEnded> = new EventQueue(async (item) => {
    if (item instanceof StreamEnded) return item;
    const now = await principalAt(ctx, updateOf(item));
    const denied =
      now instanceof DomainError
        ? now
        : !now || now.organizationId !== organizationId || !hasPermission(now, 'flag:read')
          ? new ForbiddenError()
          : null;
    if (denied) {
      queue.end();
      return new StreamEnded(denied);
    }
    ctx.em = ctx.em.fork();
    ctx.principal = now as Principal;
    return item;
  });
  return queue;
}

builder.subscriptionField('flagChanged', (t) =>
  t.field({
    type: FlagChangeType,
    description:
      "Every change to a flag of the project, one event per flag and environment. The subscriber's access is checked again on each event: a member who left or a deactivated token gets one error and the stream ends.",
    authScopes: { permission: 'flag:read' },
    args: {
      projectId: t.arg.id({ required: true }),
      environmentKeys: t.arg.stringList({ required: false, description: 'Only these environments (default: all).' }),
      flagKeys: t.arg.stringList({ required: false, description: 'Only these flags (default: all).' }),
    },
    subscribe: async (_root, args, ctx) => {
      const { hub } = ctx.services;
      const project = await subscribedProject(ctx, args.projectId.toString());
      const environments = args.environmentKeys ? new Set(args.environmentKeys) : null;
      const flags = args.flagKeys ? new Set(args.flagKeys) : null;
      const queue = recheckedQueue<FlagChangeEvent>(ctx, (item) => item.update);
      queue.onClose(
        hub.onProject(project.id, (event) => {
          if (environments && !environments.has(event.environmentKey)) return;
          if (flags && !flags.has(event.delta.key)) return;
          queue.push({
            projectId: project.id,
            environmentId: event.update.environmentId,
            delta: event.delta,
            update: event.update,
          });
        }),
      );
      queue.onClose(hub.track(() => queue.end()));
      return queue;
    },
    resolve: (event) => {
      if (event instanceof StreamEnded) throw event.error;
      return event;
    },
  }),
);

declare module '../../graphql/context.js' {
  interface ContextServices {
    hub: Hub;
  }
}
