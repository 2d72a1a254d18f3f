import { DEFAULT_LIMIT, MAX_LIMIT } from '../../common/pagination.js';
import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { rateLimited } from '../../graphql/limits.js';
import { describeDetails } from './diff.js';
import type { AuditEntry } from './entity.js';
import {
  type AuditPage,
  type ChainBreak,
  type ChainVerification,
  listAuditEntries,
  verifyAuditChain,
} from './service.js';

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
      description: 'member, personal-token, service-token, on-behalf or scheduler.',
    }),
    actorUserId: t.exposeID('actorUserId', {
      nullable: true,
      description: 'The member: the one acting, acted on behalf of, or (for the scheduler) who scheduled the change.',
    }),
    actorTokenId: t.exposeID('actorTokenId', { nullable: true, description: 'The access token used, if any.' }),
    details: t.expose('details', {
      type: 'JSON',
      description: 'What changed: `before` and `after` where the change has them.',
    }),
    changes: t.stringList({
      description: 'The differences between details.before and details.after, as lines a person reads.',
      resolve: (e) => describeDetails(e.details),
    }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The X-Request-Id of the request.' }),
    clientIp: t.exposeString('clientIp', { nullable: true }),
    seq: t.int({
      nullable: true,
      description: "The entry's position in its organization's hash chain (1, 2, 3…).",
      resolve: (e) => e.seq ?? null,
    }),
    prevHash: t.string({ nullable: true, resolve: (e) => e.prevHash ?? null }),
    hash: t.string({
      nullable: true,
      description: 'SHA-256 over prevHash and the entry in RFC 8785 canonical JSON.',
      resolve: (e) => e.hash ?? null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const AuditPageType = builder.objectRef<AuditPage>('AuditEntryPage').implement({
  description: 'A page of AuditEntry items; nextCursor continues where it ends.',
  fields: (t) => ({
    data: t.field({ type: [AuditEntryType], resolve: (p) => p.data }),
    total: t.exposeInt('total'),
    limit: t.exposeInt('limit'),
    offset: t.exposeInt('offset'),
    hasMore: t.exposeBoolean('hasMore'),
    nextCursor: t.exposeString('nextCursor', {
      nullable: true,
      description: 'Pass it as `after` for the next page; null on the last one.',
    }),
  }),
});

const ChainBreakType = builder.objectRef<ChainBreak>('AuditChainBreak').implement({
  fields: (t) => ({
    seq: t.exposeInt('seq', { description: 'Where in the chain the link is broken.' }),
    entryId: t.exposeID('entryId', { nullable: true, description: 'The entry found there; null when it is missing.' }),
    reason: t.exposeString('reason'),
  }),
});

const ChainVerificationType = builder.objectRef<ChainVerification>('AuditChainVerification').implement({
  fields: (t) => ({
    valid: t.exposeBoolean('valid'),
    checked: t.exposeInt('checked', { description: 'Entries verified before the first broken link (or all).' }),
    length: t.exposeInt('length', { description: 'The number of entries the chain records.' }),
    firstBroken: t.field({ type: ChainBreakType, nullable: true, resolve: (v) => v.firstBroken }),
  }),
});

builder.queryFields((t) => ({
  auditLog: t.field({
    type: AuditPageType,
    description:
      "The organization's changes, newest first; every filter given must hold. Page with limit and offset, or export with after and nextCursor.",
    authScopes: { permission: 'audit:read' },
    args: {
      limit: t.arg.int({ required: false, description: `Items per page, 1-${MAX_LIMIT}; default ${DEFAULT_LIMIT}.` }),
      offset: t.arg.int({ required: false, description: 'Items to skip; default 0.' }),
      after: t.arg.string({ required: false, description: 'The nextCursor of the previous page.' }),
      action: t.arg.string({ required: false, description: 'Only this action, e.g. flag.state.updated.' }),
      resourceType: t.arg.string({ required: false, description: 'Only this kind of resource, e.g. flag.' }),
      resourceId: t.arg.string({ required: false, description: 'Only the changes to this resource (a flag id, …).' }),
      projectId: t.arg.id({ required: false, description: 'Only the changes in this project.' }),
      environmentId: t.arg.id({ required: false, description: 'Only the changes in this environment.' }),
      actorUserId: t.arg.id({ required: false, description: 'Only the changes by (or on behalf of) this member.' }),
      actorTokenId: t.arg.id({ required: false, description: 'Only the changes made with this access token.' }),
      principalKind: t.arg.string({
        required: false,
        description: 'Only changes by this kind of actor: member, personal-token, service-token, on-behalf, scheduler.',
      }),
      since: t.arg({ type: 'DateTime', required: false, description: 'Only changes at or after this time.' }),
      until: t.arg({ type: 'DateTime', required: false, description: 'Only changes before this time.' }),
    },
    resolve: (_r, args, ctx) =>
      listAuditEntries(ctx.em, actorOf(ctx), {
        ...args,
        projectId: args.projectId?.toString(),
        environmentId: args.environmentId?.toString(),
        actorUserId: args.actorUserId?.toString(),
        actorTokenId: args.actorTokenId?.toString(),
      }),
  }),
  verifyAuditChain: t.field({
    type: ChainVerificationType,
    description:
      "Recomputes the organization's audit hash chain from its first entry and reports the first broken link: an entry changed, removed or replaced after it was written.",
    authScopes: { permission: 'audit:read' },
    // It reads the organization's whole history: one call costs what a page of it would a million times.
    extensions: rateLimited({ sensitive: true }),
    resolve: (_r, _a, ctx) => verifyAuditChain(ctx.em, actorOf(ctx).organizationId),
  }),
}));
