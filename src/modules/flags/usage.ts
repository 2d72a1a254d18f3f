import type { EntityManager } from '@mikro-orm/postgresql';
import type { ManagementPrincipal } from '../../auth/principal.js';
import { type Page, pageWindow, toPage } from '../../common/pagination.js';
import { ValidationError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import { flagUsageSince, lastEvaluatedIn, lastEvaluatedInProject } from '../metrics/usage.js';
import { getProject } from '../projects/service.js';
import { type Flag, FlagSchema } from './entity.js';
import { FlagStateType, FlagType } from './schema.js';

/**
 * Which flags are used: when each was last evaluated (per flag, and per environment), and the
 * stale ones, the start of retiring a flag safely: flags nobody evaluated for a while, or that
 * served one variation to everyone for that long (the others are dead code). Archiving or
 * deleting a flag evaluated in the last hour asks for `force` (service.ts).
 */
const MAX_STALE_DAYS = 365;

export type StaleReason = 'not_evaluated' | 'single_variation';

export interface StaleFlag {
  flag: Flag;
  reason: StaleReason;
  lastEvaluatedAt: Date | null;
  servedVariation: number | null;
}

/**
 * Live flags of the project, older than `days`, that in the last `days` days were not evaluated
 * at all, or served a single variation in every environment that evaluated them; by key.
 */
export async function staleFlags(
  em: EntityManager,
  actor: ManagementPrincipal,
  projectId: string,
  days: number,
  args: { limit?: number | null; offset?: number | null },
  now: number,
): Promise<Page<StaleFlag>> {
  if (!Number.isInteger(days) || days < 1 || days > MAX_STALE_DAYS) {
    throw new ValidationError(`days must be between 1 and ${MAX_STALE_DAYS}`);
  }
  const window = pageWindow(args);
  const project = await getProject(em, actor, { id: projectId });
  const since = new Date(now - days * 86_400_000);
  const usage = await flagUsageSince(em, project.id, since);
  const candidates = await em.find(
    FlagSchema,
    { project, archivedAt: null, createdAt: { $lt: since } },
    { fields: ['id', 'key'], orderBy: { key: 'asc' } },
  );
  const stale: { id: string; reason: StaleReason; lastEvaluatedAt: Date | null; servedVariation: number | null }[] = [];
  for (const flag of candidates) {
    const used = usage.get(flag.key);
    if (!used || used.lastEvaluatedAt < since) {
      stale.push({
        id: flag.id,
        reason: 'not_evaluated',
        lastEvaluatedAt: used?.lastEvaluatedAt ?? null,
        servedVariation: null,
      });
    } else if (used.variationsSince.length === 1) {
      stale.push({
        id: flag.id,
        reason: 'single_variation',
        lastEvaluatedAt: used.lastEvaluatedAt,
        servedVariation: used.variationsSince[0]!,
      });
    }
  }
  const page = stale.slice(window.offset, window.offset + window.limit);
  const flags = new Map(
    (await em.find(FlagSchema, { id: { $in: page.map((s) => s.id) } }, { populate: ['project'] })).map((f) => [
      f.id,
      f,
    ]),
  );
  return toPage(
    page.map(({ id, ...rest }) => ({ flag: flags.get(id)!, ...rest })),
    stale.length,
    window,
  );
}

const StaleReasonEnum = builder.enumType('StaleFlagReason', {
  values: {
    NOT_EVALUATED: { value: 'not_evaluated', description: 'Not evaluated in any environment for that long.' },
    SINGLE_VARIATION: {
      value: 'single_variation',
      description: 'Served only one variation, to everyone, for that long.',
    },
  } as const,
});

const StaleFlagType = builder.objectRef<StaleFlag>('StaleFlag').implement({
  fields: (t) => ({
    flag: t.field({ type: FlagType, resolve: (s) => s.flag }),
    reason: t.field({ type: StaleReasonEnum, resolve: (s) => s.reason }),
    lastEvaluatedAt: t.expose('lastEvaluatedAt', { type: 'DateTime', nullable: true }),
    servedVariation: t.exposeInt('servedVariation', {
      nullable: true,
      description: 'For SINGLE_VARIATION: the variation everyone got.',
    }),
  }),
});

const StaleFlagPage = pageOf('StaleFlag', StaleFlagType);

const lastEvaluatedDescription =
  'The start of the minute of its latest evaluation (counts are written every few seconds); null if never.';

builder.objectFields(FlagType, (t) => ({
  lastEvaluatedAt: t.field({
    type: 'DateTime',
    nullable: true,
    description: `In any environment. ${lastEvaluatedDescription}`,
    authScopes: { permission: 'metrics:read' },
    resolve: (flag, _args, ctx) => lastEvaluatedInProject(ctx.em, flag.project.id, flag.key),
  }),
}));

builder.objectFields(FlagStateType, (t) => ({
  lastEvaluatedAt: t.field({
    type: 'DateTime',
    nullable: true,
    description: `In this environment. ${lastEvaluatedDescription}`,
    authScopes: { permission: 'metrics:read' },
    resolve: (state, _args, ctx) => lastEvaluatedIn(ctx.em, state.environment.id, state.flag.key),
  }),
}));

builder.queryField('staleFlags', (t) =>
  t.field({
    type: StaleFlagPage,
    description:
      'Live flags older than `days` that in the last `days` days were not evaluated, or served one variation to all traffic: candidates for retirement, by key.',
    authScopes: { $all: { permission: 'flag:read', anyPermission: ['metrics:read'] } },
    args: { ...pageArgs, projectId: t.arg.id({ required: true }), days: t.arg.int({ required: true }) },
    resolve: (_r, args, ctx) =>
      staleFlags(ctx.em, actorOf(ctx), args.projectId.toString(), args.days, args, ctx.clock.now()),
  }),
);
