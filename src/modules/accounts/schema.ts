import { ROLES } from '../../auth/permissions.js';
import { NotFoundError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { rateLimited } from '../../graphql/limits.js';
import { MembershipSchema, type Organization, OrganizationSchema, type User, UserSchema } from './entity.js';
import { login, refresh, type TokenPair } from './service.js';

export const RoleEnum = builder.enumType('Role', { values: ROLES });

export const UserType = builder.objectRef<User>('User').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const OrganizationType = builder.objectRef<Organization>('Organization').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const TokensType = builder.objectRef<TokenPair>('Tokens').implement({
  description: 'A session: a short-lived access JWT and a single-use refresh token.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken'),
    refreshToken: t.exposeString('refreshToken'),
    expiresAt: t.exposeInt('expiresAt', { description: 'Unix seconds at which the access token expires.' }),
  }),
});

export const SessionType = builder
  .objectRef<{ user: User; organization: Organization; tokens: TokenPair }>('Session')
  .implement({
    fields: (t) => ({
      user: t.field({ type: UserType, resolve: (s) => s.user }),
      organization: t.field({ type: OrganizationType, resolve: (s) => s.organization }),
      tokens: t.field({ type: TokensType, resolve: (s) => s.tokens }),
    }),
  });

const ViewerType = builder
  .objectRef<{ user: User | null; role: string | null; kind: string; permissions: string[] }>('Viewer')
  .implement({
    description: 'Who the request is authenticated as.',
    fields: (t) => ({
      kind: t.exposeString('kind', { description: 'member, personal-token, service-token or on-behalf.' }),
      user: t.field({ type: UserType, nullable: true, resolve: (v) => v.user }),
      role: t.field({ type: RoleEnum, nullable: true, resolve: (v) => v.role as (typeof ROLES)[number] | null }),
      permissions: t.exposeStringList('permissions'),
    }),
  });

builder.queryFields((t) => ({
  me: t.field({
    type: ViewerType,
    authScopes: { authenticated: true },
    resolve: async (_root, _args, ctx) => {
      const actor = actorOf(ctx);
      const user = actor.userId ? await ctx.em.findOne(UserSchema, { id: actor.userId }) : null;
      return { user, role: actor.role, kind: actor.kind, permissions: [...actor.permissions].sort() };
    },
  }),
  organization: t.field({
    type: OrganizationType,
    authScopes: { permission: 'org:read' },
    resolve: async (_root, _args, ctx) => {
      const org = await ctx.em.findOne(OrganizationSchema, { id: actorOf(ctx).organizationId });
      if (!org) throw new NotFoundError('organization');
      return org;
    },
  }),
}));

builder.objectField(OrganizationType, 'memberCount', (t) =>
  t.int({
    authScopes: { permission: 'member:read' },
    resolve: (org, _args, ctx) => ctx.em.count(MembershipSchema, { organization: org.id }),
  }),
);

const LoginInput = builder.inputType('LoginInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

builder.mutationFields((t) => ({
  login: t.field({
    type: SessionType,
    // Counted with the REST auth routes: the auth budget of the caller's IP.
    extensions: rateLimited({ budget: 'auth' }),
    args: { input: t.arg({ type: LoginInput, required: true }) },
    resolve: (_root, { input }, ctx) => login(ctx.em, ctx.settings, input),
  }),
  refreshTokens: t.field({
    type: TokensType,
    description:
      'Exchanges a refresh token for a new pair. Each refresh token works once; reusing one revokes its whole family.',
    // Counted with the REST auth routes: the auth budget of the caller's IP.
    extensions: rateLimited({ budget: 'auth' }),
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: (_root, { refreshToken }, ctx) => refresh(ctx.em, ctx.settings, refreshToken),
  }),
}));
