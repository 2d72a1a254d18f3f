import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import type { Membership } from '../accounts/entity.js';
import { OrganizationType, RoleEnum, SessionType, UserType } from '../accounts/schema.js';
import {
  addMember,
  listMembers,
  organizationsVisibleTo,
  removeMember,
  switchOrganization,
  updateMemberRole,
} from './service.js';

const MemberType = builder.objectRef<Membership>('Member').implement({
  authScopes: { permission: 'member:read' },
  fields: (t) => ({
    user: t.field({ type: UserType, resolve: (m) => m.user }),
    role: t.field({ type: RoleEnum, resolve: (m) => m.role }),
    joinedAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const MemberPage = pageOf('Member', MemberType);

builder.queryFields((t) => ({
  members: t.field({
    type: MemberPage,
    authScopes: { permission: 'member:read' },
    args: pageArgs,
    resolve: (_root, args, ctx) => listMembers(ctx.em, actorOf(ctx), args),
  }),
  myOrganizations: t.field({
    type: [OrganizationType],
    description:
      'Every organization the signed-in person belongs to. A token, or a session from single sign-on, sees only its own.',
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => organizationsVisibleTo(ctx.em, actorOf(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  addMember: t.field({
    type: MemberType,
    description: 'Adds a person who already has an account. Only owners may grant the owner role.',
    authScopes: { permission: 'member:manage' },
    args: { email: t.arg.string({ required: true }), role: t.arg({ type: RoleEnum, required: true }) },
    resolve: (_root, args, ctx) => addMember(ctx.em, actorOf(ctx), args),
  }),
  updateMemberRole: t.field({
    type: MemberType,
    authScopes: { permission: 'member:manage' },
    args: { userId: t.arg.id({ required: true }), role: t.arg({ type: RoleEnum, required: true }) },
    resolve: (_root, { userId, role }, ctx) => updateMemberRole(ctx.em, actorOf(ctx), userId.toString(), role),
  }),
  removeMember: t.field({
    type: MemberType,
    authScopes: { permission: 'member:manage' },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId }, ctx) => removeMember(ctx.em, actorOf(ctx), userId.toString()),
  }),
  switchOrganization: t.field({
    type: SessionType,
    description: 'A new session in another organization the signed-in person belongs to.',
    authScopes: { authenticated: true },
    args: { organizationId: t.arg.id({ required: true }) },
    resolve: (_root, { organizationId }, ctx) =>
      switchOrganization(ctx.em, ctx.settings, actorOf(ctx), organizationId.toString()),
  }),
}));
