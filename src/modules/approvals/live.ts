import { builder } from '../../graphql/builder.js';
import type { NoticeEvent } from '../../realtime/hub.js';
import { StreamEnded } from '../../realtime/queue.js';
import { ChangeActorType, recheckedQueue, subscribedProject } from '../flags/live.js';
import { type PendingChange, PendingChangeSchema } from '../pending/entity.js';
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
      const project = await subscribedProject(ctx, args.projectId.toString());
      const queue = recheckedQueue<NoticeEvent>(ctx, (item) => item);
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
