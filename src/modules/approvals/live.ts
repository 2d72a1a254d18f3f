import { hasPermission, type Principal } from '../../auth/principal.js';
import { DomainError, ForbiddenError, NotFoundError, shuttingDown } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import type { NoticeEvent } from '../../realtime/hub.js';
import { EventQueue, StreamEnded } from '../../realtime/queue.js';
import { ChangeActorType, principalAt } from '../flags/live.js';
import { type PendingChange, PendingChangeSchema } from '../pending/entity.js';
import { ProjectSchema } from '../projects/entity.js';
import { PendingChangeType } from './schema.js';

/**
 * `approvalChanged`, a reviewer's inbox that updates itself: every pending change of a project
 * that is proposed, edited, reviewed, applied, goes stale, expires or is cancelled, on whichever
 * node it happened (the change bus's notices, realtime/hub.ts). Authorized like a query and again
 * on every event, as flagChanged is.
 */
const ApprovalChangeType = builder.objectRef<NoticeEvent>('ApprovalChange').implement({
  description: 'A pending change moved.',
  fields: (t) => ({
    pendingChangeId: t.id({ resolve: (e) => e.change.notice.id }),
    state: t.string({
      description: 'The state it moved to (PendingChangeState, lower-case), as of this event.',
      resolve: (e) => e.change.notice.state,
    }),
    pendingChange: t.field({
      type: PendingChangeType,
      nullable: true,
      description: 'The change as it is now (null once its project is gone).',
      resolve: (e, _a, ctx): Promise<PendingChange | null> =>
        ctx.em.findOne(PendingChangeSchema, { id: e.change.notice.id }, { populate: ['project', 'environment'] }),
    }),
    changedBy: t.field({ type: ChangeActorType, nullable: true, resolve: (e) => e.change.actor ?? null }),
    changedAt: t.field({ type: 'DateTime', resolve: (e) => e.at }),
  }),
});

builder.subscriptionField('approvalChanged', (t) =>
  t.field({
    type: ApprovalChangeType,
    description:
      "Every move of a pending change of the project (proposed, edited, reviewed, applied, stale, expired, cancelled). The subscriber's access is checked again on each event.",
    authScopes: { permission: 'flag:read' },
    args: { projectId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const { hub } = ctx.services;
      const principal = actorOf(ctx);
      const projectId = args.projectId.toString();
      const project = /^[0-9a-f-]{36}$/i.test(projectId)
        ? await ctx.em.findOne(ProjectSchema, { id: projectId, organization: principal.organizationId })
        : null;
      if (!project) throw new NotFoundError('project');
      if (hub.isClosing) throw shuttingDown();
      const organizationId = principal.organizationId;
      const queue: EventQueue<NoticeEvent | StreamEnded> = new EventQueue(async (item) => {
        if (item instanceof StreamEnded) return item;
        const now = await principalAt(ctx, item);
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
      queue.onClose(
        hub.onNotice(project.id, (event) => {
          if (event.change.kind === 'approval.changed') queue.push(event);
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
