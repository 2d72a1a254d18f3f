import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import type { AuditEntry } from './entity.js';
import { listAuditEntries } from './service.js';

const AuditEntryType = builder.objectRef<AuditEntry>('AuditEntry').implement({
  authScopes: { permission: 'audit:read' },
  fields: (t) => ({
    id: t.exposeID('id'),
    action: t.exposeString('action'),
    resourceType: t.exposeString('resourceType'),
    resourceId: t.exposeString('resourceId', { nullable: true }),
    projectId: t.exposeID('projectId', { nullable: true }),
    environmentId: t.exposeID('environmentId', { nullable: true }),
    principalKind: t.exposeString('principalKind', {
      description: 'member, personal-token, service-token or on-behalf.',
    }),
    actorUserId: t.exposeID('actorUserId', {
      nullable: true,
      description: 'The member, including the one acted on behalf of.',
    }),
    actorTokenId: t.exposeID('actorTokenId', { nullable: true, description: 'The access token used, if any.' }),
    details: t.expose('details', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const AuditPage = pageOf('AuditEntry', AuditEntryType);

builder.queryField('auditLog', (t) =>
  t.field({
    type: AuditPage,
    description: "The organization's changes, newest first.",
    authScopes: { permission: 'audit:read' },
    args: {
      ...pageArgs,
      action: t.arg.string({ required: false, description: 'Only this action, e.g. flag.state.updated.' }),
      resourceType: t.arg.string({ required: false, description: 'Only this kind of resource, e.g. flag.' }),
      resourceId: t.arg.string({ required: false, description: 'Only the changes to this resource (a flag id, …).' }),
      projectId: t.arg.id({ required: false, description: 'Only the changes in this project.' }),
      environmentId: t.arg.id({ required: false, description: 'Only the changes in this environment.' }),
      actorUserId: t.arg.id({ required: false, description: 'Only the changes by (or on behalf of) this member.' }),
    },
    resolve: (_r, args, ctx) =>
      listAuditEntries(ctx.em, actorOf(ctx), {
        ...args,
        projectId: args.projectId?.toString(),
        environmentId: args.environmentId?.toString(),
        actorUserId: args.actorUserId?.toString(),
      }),
  }),
);
