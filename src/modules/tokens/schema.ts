import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { rateLimited } from '../../graphql/limits.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import { UserType } from '../accounts/schema.js';
import type { AccessToken } from './entity.js';
import {
  type CreatedAccessToken,
  createAccessToken,
  deleteAccessToken,
  listAccessTokens,
  updateAccessToken,
} from './service.js';

const AccessTokenKindEnum = builder.enumType('AccessTokenKind', {
  values: {
    PERSONAL: { value: 'personal', description: "vx_pat_…: acts as its owner; scopes ∩ the owner's current role." },
    SERVICE: { value: 'service', description: 'vx_sat_…: scopes fixed at creation, independent of its creator.' },
  } as const,
});

const AccessTokenType = builder.objectRef<AccessToken>('AccessToken').implement({
  description: 'A management API credential. Its value is shown once, at creation, and never again.',
  authScopes: { permission: 'token:list' },
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: AccessTokenKindEnum, resolve: (tk) => tk.kind }),
    name: t.exposeString('name'),
    masked: t.exposeString('masked'),
    owner: t.field({
      type: UserType,
      nullable: true,
      description: 'Owner (personal) or creator (service).',
      resolve: (tk) => tk.user,
    }),
    permissions: t.stringList({ resolve: (tk) => tk.scopes }),
    environmentIds: t.idList({ nullable: true, resolve: (tk) => tk.environmentIds }),
    active: t.exposeBoolean('active'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatedAccessTokenType = builder.objectRef<CreatedAccessToken>('CreatedAccessToken').implement({
  fields: (t) => ({
    token: t.field({ type: AccessTokenType, resolve: (c) => c.token }),
    value: t.exposeString('value', { description: 'The token. Shown this once: copy it now.' }),
  }),
});

const AccessTokenPage = pageOf('AccessToken', AccessTokenType);

const CreateAccessTokenInput = builder.inputType('CreateAccessTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    kind: t.field({ type: AccessTokenKindEnum, required: true }),
    permissions: t.stringList({
      required: true,
      description: 'Permissions such as flag:read, flag:write (never more than yours).',
    }),
    environmentIds: t.idList({
      required: false,
      description: 'Limit environment-scoped writes to these environments.',
    }),
  }),
});

const UpdateAccessTokenInput = builder.inputType('UpdateAccessTokenInput', {
  fields: (t) => ({
    name: t.string({ required: false }),
    active: t.boolean({ required: false }),
  }),
});

builder.queryFields((t) => ({
  accessTokens: t.field({
    type: AccessTokenPage,
    authScopes: { permission: 'token:list' },
    args: pageArgs,
    resolve: (_r, args, ctx) => listAccessTokens(ctx.em, actorOf(ctx), args),
  }),
}));

builder.mutationFields((t) => ({
  createAccessToken: t.field({
    type: CreatedAccessTokenType,
    extensions: rateLimited({ sensitive: true }),
    authScopes: (_r, { input }) => ({
      permission: input.kind === 'service' ? 'token:manage-service' : 'token:manage-personal',
    }),
    args: { input: t.arg({ type: CreateAccessTokenInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      createAccessToken(ctx.em, actorOf(ctx), {
        name: input.name,
        kind: input.kind,
        permissions: input.permissions,
        environmentIds: input.environmentIds?.map(String) ?? null,
      }),
  }),
  updateAccessToken: t.field({
    type: AccessTokenType,
    description:
      'Renames, activates or deactivates a token (an inactive token answers 403). Only a token that can do nothing you cannot: no permission you lack, no environment beyond yours.',
    authScopes: { anyPermission: ['token:manage-personal', 'token:manage-service'] },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateAccessTokenInput, required: true }) },
    resolve: (_r, { id, input }, ctx) => updateAccessToken(ctx.em, actorOf(ctx), id.toString(), input),
  }),
  deleteAccessToken: t.field({
    type: AccessTokenType,
    description:
      'Deletes a token for good (it then answers 401): one that can do nothing you cannot, or any token for admins (member:manage).',
    authScopes: { anyPermission: ['token:manage-personal', 'token:manage-service', 'member:manage'] },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => deleteAccessToken(ctx.em, actorOf(ctx), id.toString()),
  }),
}));
