import { builder } from '../../graphql/builder.js';
import { actorOf, type GraphQLContext } from '../../graphql/context.js';
import { rateLimited } from '../../graphql/limits.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import { OrganizationSchema } from '../accounts/entity.js';
import { RoleEnum, SessionType } from '../accounts/schema.js';
import type { Invitation } from './entity.js';
import type { Mailer } from './mail.js';
import {
  acceptInvitation,
  acceptLink,
  type IssuedInvitation,
  inviteMember,
  listInvitations,
  revokeInvitation,
} from './service.js';

const InvitationType = builder.objectRef<Invitation>('Invitation').implement({
  authScopes: { permission: 'member:read' },
  description: 'An invitation waiting to be accepted. Its token is shown once, when it is created.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    role: t.field({ type: RoleEnum, resolve: (i) => i.role }),
    invitedByUserId: t.exposeID('invitedByUserId', { nullable: true }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    acceptedAt: t.expose('acceptedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface CreatedInvitation extends IssuedInvitation {
  acceptUrl: string;
  mailed: boolean;
}

const CreatedInvitationType = builder.objectRef<CreatedInvitation>('CreatedInvitation').implement({
  fields: (t) => ({
    invitation: t.field({ type: InvitationType, resolve: (c) => c.invitation }),
    token: t.exposeString('token', { description: 'Shown once: only its hash is kept.' }),
    acceptUrl: t.exposeString('acceptUrl', {
      description: 'The link to pass on (…/invite#token): Vexil sends no mail unless SMTP_URL is set.',
    }),
    mailed: t.exposeBoolean('mailed', { description: 'Whether it was mailed to the address (SMTP_URL set).' }),
  }),
});

const InvitationPage = pageOf('Invitation', InvitationType);
const now = (ctx: GraphQLContext) => new Date(ctx.clock.now());

builder.queryField('invitations', (t) =>
  t.field({
    type: InvitationPage,
    description: 'Invitations still waiting to be accepted, newest first.',
    authScopes: { permission: 'member:read' },
    args: pageArgs,
    resolve: (_r, args, ctx) => listInvitations(ctx.em, actorOf(ctx), args, now(ctx)),
  }),
);

builder.mutationFields((t) => ({
  inviteMember: t.field({
    type: CreatedInvitationType,
    description:
      'Invites a person by email with a role: a single-use link valid for 7 days (mailed when SMTP_URL is set). A current member answers CONFLICT; only owners invite owners.',
    authScopes: { permission: 'member:manage' },
    extensions: rateLimited({ sensitive: true }),
    args: { email: t.arg.string({ required: true }), role: t.arg({ type: RoleEnum, required: true }) },
    resolve: async (_root, args, ctx) => {
      const { mailer, publicUrl } = ctx.services.invitations;
      const issued = await inviteMember(ctx.em, actorOf(ctx), args, now(ctx));
      const acceptUrl = acceptLink(publicUrl, issued.token);
      const organization = await ctx.em.findOneOrFail(OrganizationSchema, { id: actorOf(ctx).organizationId });
      // After the commit: a mail server that is down loses no invitation (the link is answered).
      const mailed = await mailer.sendInvitation(issued.invitation.email, {
        organizationName: organization.name,
        role: issued.invitation.role,
        link: acceptUrl,
      });
      return { ...issued, acceptUrl, mailed };
    },
  }),
  revokeInvitation: t.field({
    type: InvitationType,
    authScopes: { permission: 'member:manage' },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => revokeInvitation(ctx.em, actorOf(ctx), id.toString(), now(ctx)),
  }),
  acceptInvitation: t.field({
    type: SessionType,
    description:
      'Accepts an invitation, once. Without a credential, registers the person invited (name and password; no organization of their own). Signed in as the person invited, joins with that account. Answers a session in the organization that invited them.',
    extensions: rateLimited({ budget: 'auth' }),
    args: {
      token: t.arg.string({ required: true }),
      name: t.arg.string({ required: false }),
      password: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) => acceptInvitation(ctx.em, ctx.settings, ctx.principal, args, now(ctx)),
  }),
}));

declare module '../../graphql/context.js' {
  interface ContextServices {
    /** Where invitation links point, and the mail that may carry them. */
    invitations: { mailer: Mailer; publicUrl: string };
  }
}
