import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { rateLimited } from '../../graphql/limits.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import { UserSchema } from '../accounts/entity.js';
import { UserType } from '../accounts/schema.js';
import { EnvironmentType } from '../projects/schema.js';
import type { SdkKey } from './entity.js';
import {
  type CreatedSdkKey,
  clientSideKey,
  createSdkKey,
  GRACE_MINUTES,
  isKeyActive,
  listSdkKeys,
  pageSdkKeys,
  revokeSdkKey,
  rotateServerKeys,
  setAuthorizedOrigins,
} from './service.js';

const SdkKeyKindEnum = builder.enumType('SdkKeyKind', {
  values: {
    SERVER: { value: 'server', description: 'vx_srv_…: secret, backend code only.' },
    MOBILE: { value: 'mobile', description: 'vx_mob_…: semi-secret, shipped in mobile apps.' },
    CLIENT: { value: 'client', description: 'vx_cs_…: public client-side ID, one per environment, fixed.' },
  } as const,
});

const SdkKeyType = builder.objectRef<SdkKey>('SdkKey').implement({
  description: 'An SDK credential. Only its masked form is ever shown after creation.',
  authScopes: { permission: 'sdkkey:read' },
  fields: (t) => ({
    id: t.exposeID('id'),
    environmentId: t.id({ resolve: (k) => k.environment.id }),
    kind: t.field({ type: SdkKeyKindEnum, resolve: (k) => k.kind }),
    name: t.exposeString('name'),
    masked: t.exposeString('masked', { description: 'Prefix and last four characters, e.g. vx_srv_…a1B2.' }),
    active: t.boolean({ resolve: (k, _a, ctx) => isKeyActive(k, ctx.clock.now()) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    createdBy: t.field({
      type: UserType,
      nullable: true,
      resolve: (k, _a, ctx) => (k.createdBy ? ctx.em.findOne(UserSchema, { id: k.createdBy }) : null),
    }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'End of the revocation grace period.',
    }),
  }),
});

const CreatedSdkKeyType = builder.objectRef<CreatedSdkKey>('CreatedSdkKey').implement({
  fields: (t) => ({
    key: t.field({ type: SdkKeyType, resolve: (c) => c.key }),
    value: t.exposeString('value', { description: 'The full key. Shown this once: copy it now.' }),
  }),
});

builder.objectFields(EnvironmentType, (t) => ({
  clientSideId: t.string({
    nullable: true,
    description: 'The public client-side ID (vx_cs_…) for browser SDKs: fixed for the life of the environment.',
    resolve: async (env, _a, ctx) => (await clientSideKey(ctx.em, env.id))?.publicValue ?? null,
  }),
  authorizedOrigins: t.stringList({
    description: 'Browser origins allowed to use the client-side ID (a CORS allow-list).',
    resolve: async (env, _a, ctx) => (await clientSideKey(ctx.em, env.id))?.authorizedOrigins ?? [],
  }),
  unsafeOrigins: t.boolean({
    description: 'True when the allow-list holds "*": any website can then use the client-side ID.',
    resolve: async (env, _a, ctx) => ((await clientSideKey(ctx.em, env.id))?.authorizedOrigins ?? []).includes('*'),
  }),
  sdkKeys: t.field({
    type: [SdkKeyType],
    complexity: { field: 1, multiplier: 10 },
    authScopes: { permission: 'sdkkey:read' },
    resolve: (env, _a, ctx) => listSdkKeys(ctx.em, env.id),
  }),
}));

const SdkKeyPage = pageOf('SdkKey', SdkKeyType);

builder.queryField('sdkKeys', (t) =>
  t.field({
    type: SdkKeyPage,
    description: "An environment's SDK keys, masked, with when each was last used (a value is never shown again).",
    authScopes: { permission: 'sdkkey:read' },
    args: { environmentId: t.arg.id({ required: true }), ...pageArgs },
    resolve: (_r, { environmentId, ...page }, ctx) => pageSdkKeys(ctx.em, actorOf(ctx), environmentId.toString(), page),
  }),
);

const GRACE = `Grace period in minutes: one of ${GRACE_MINUTES.join(', ')}.`;

builder.mutationFields((t) => ({
  createSdkKey: t.field({
    type: CreatedSdkKeyType,
    description: 'Adds a server or mobile key (rotate by addition). The value is returned this once.',
    extensions: rateLimited({ sensitive: true }),
    authScopes: (_r, { environmentId }) => ({
      environmentPermission: { permission: 'sdkkey:manage', environmentId: environmentId.toString() },
    }),
    args: {
      environmentId: t.arg.id({ required: true }),
      kind: t.arg({ type: SdkKeyKindEnum, required: true }),
      name: t.arg.string({ required: false }),
    },
    resolve: async (_r, args, ctx) => {
      const created = await createSdkKey(ctx.em, actorOf(ctx), args.environmentId.toString(), {
        kind: args.kind,
        name: args.name,
      });
      await ctx.refreshKeys(args.environmentId.toString());
      return created;
    },
  }),
  revokeSdkKey: t.field({
    type: SdkKeyType,
    description: `Revokes a key; it keeps working until the grace period ends, then answers 401. ${GRACE}`,
    authScopes: { permission: 'sdkkey:manage' },
    args: { id: t.arg.id({ required: true }), graceMinutes: t.arg.int({ required: true }) },
    resolve: async (_r, { id, graceMinutes }, ctx) => {
      const key = await revokeSdkKey(ctx.em, actorOf(ctx), id.toString(), graceMinutes, ctx.clock);
      await ctx.refreshKeys(key.environment.id);
      return key;
    },
  }),
  rotateServerKeys: t.field({
    type: [CreatedSdkKeyType],
    description: `Replaces every active server key of the environment: one new key per old one, the old ones revoked. ${GRACE}`,
    extensions: rateLimited({ sensitive: true }),
    authScopes: (_r, { environmentId }) => ({
      environmentPermission: { permission: 'sdkkey:manage', environmentId: environmentId.toString() },
    }),
    args: { environmentId: t.arg.id({ required: true }), graceMinutes: t.arg.int({ required: true }) },
    resolve: async (_r, { environmentId, graceMinutes }, ctx) => {
      const created = await rotateServerKeys(ctx.em, actorOf(ctx), environmentId.toString(), graceMinutes, ctx.clock);
      await ctx.refreshKeys(environmentId.toString());
      return created;
    },
  }),
  setAuthorizedOrigins: t.field({
    type: EnvironmentType,
    description: 'Replaces the browser origins allowed to use the client-side ID. "*" is allowed but unsafe.',
    authScopes: (_r, { environmentId }) => ({
      environmentPermission: { permission: 'sdkkey:manage', environmentId: environmentId.toString() },
    }),
    args: { environmentId: t.arg.id({ required: true }), origins: t.arg.stringList({ required: true }) },
    resolve: async (_r, { environmentId, origins }, ctx) => {
      const key = await setAuthorizedOrigins(ctx.em, actorOf(ctx), environmentId.toString(), origins);
      await ctx.refreshKeys(environmentId.toString());
      return key.environment;
    },
  }),
}));
