import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ROLES } from '../../auth/permissions.js';
import type { SessionSettings } from '../../auth/session.js';
import { setRequestOrigin } from '../../db/origin.js';
import type { Orm } from '../../db/orm.js';
import { ipBudget, type RateLimit, rateLimitBy } from '../../http/rate-limit.js';
import { defineRoute, PAGE_FIELDS, Page, PageQuery, strict, Timestamp, Uuid } from '../../rest/route.js';
import { orgJson, tokensJson, userJson } from '../accounts/present.js';
import { resolvePrincipal } from '../identity/resolve.js';
import { acceptInvitation } from './service.js';

const AcceptBody = Type.Object(
  { token: Type.String(), name: Type.Optional(Type.String()), password: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

/**
 * `POST /v1/auth/invitations/accept`, beside sign-up: `{token, name, password}` registers the
 * person invited (201, no organization of their own); `{token}` with the invited person's
 * `Authorization: Bearer <access token>` joins with that account (200). Either answers a session
 * in the inviting organization, as sign-up does.
 */
export function registerInvitationRoutes(
  app: FastifyInstance,
  deps: { orm: Orm; settings: SessionSettings; authLimit: RateLimit },
) {
  const perIp = rateLimitBy(deps.authLimit, (req) => ipBudget(req.ip));
  app.post('/v1/auth/invitations/accept', { schema: { body: AcceptBody }, preHandler: perIp }, async (req, reply) => {
    const body = req.body as { token: string; name?: string; password?: string };
    const em = deps.orm.em.fork();
    setRequestOrigin(em, { requestId: req.id, clientIp: req.ip });
    const principal = req.headers.authorization
      ? await resolvePrincipal(em, { authorization: req.headers.authorization }, deps.settings.jwtSecret)
      : null;
    const { user, organization, tokens, created } = await acceptInvitation(
      em,
      deps.settings,
      principal,
      body,
      new Date(app.clock.now()),
    );
    return reply
      .status(created ? 201 : 200)
      .send({ user: userJson(user), organization: orgJson(organization), tokens: tokensJson(tokens) });
  });
}

/** Invitations on the REST management route table (src/routes.ts), as the reference names them. */
const INVITATION = `fragment RestInvitation on Invitation {
  id email role invited_by: invitedByUserId expires_at: expiresAt created_at: createdAt
}`;
const Invitation = Type.Object({
  id: Uuid,
  email: Type.String(),
  role: Type.Enum([...ROLES]),
  invited_by: Type.Union([Uuid, Type.Null()]),
  expires_at: Timestamp,
  created_at: Timestamp,
});

export const invitationRoutes = [
  defineRoute({
    name: 'inviteMember',
    method: 'POST',
    url: '/v1/members/invite',
    tag: 'Members',
    summary: 'Invite a member',
    description:
      'A single-use accept link (`…/invite#token`), valid for 7 days, shown once (and mailed when SMTP_URL is set). A current member answers 409; only owners invite owners.',
    permission: 'member:manage',
    body: Type.Object({ email: Type.String(), role: Type.Enum([...ROLES]) }, strict),
    status: 201,
    response: Type.Object({
      invitation: Invitation,
      token: Type.String(),
      accept_url: Type.String(),
      mailed: Type.Boolean(),
    }),
    operation: `mutation RestInvite($email: String!, $role: Role!) {
      inviteMember(email: $email, role: $role) { invitation { ...RestInvitation } token accept_url: acceptUrl mailed }
    } ${INVITATION}`,
    variables: ({ body }) => ({ email: body.email, role: body.role }),
    result: (data) => data.inviteMember,
  }),
  defineRoute({
    name: 'listInvitations',
    method: 'GET',
    url: '/v1/invitations',
    tag: 'Members',
    summary: 'List pending invitations',
    permission: 'member:read',
    query: Type.Object(PageQuery, strict),
    status: 200,
    response: Page(Invitation),
    operation: `query RestInvitations($limit: Int, $offset: Int) {
      invitations(limit: $limit, offset: $offset) { data { ...RestInvitation } ${PAGE_FIELDS} }
    } ${INVITATION}`,
    variables: ({ query }) => query,
    result: (data) => data.invitations,
  }),
  defineRoute({
    name: 'revokeInvitation',
    method: 'DELETE',
    url: '/v1/invitations/:id',
    tag: 'Members',
    summary: 'Revoke an invitation',
    permission: 'member:manage',
    params: Type.Object({ id: Uuid }, strict),
    status: 204,
    operation: 'mutation RestRevokeInvitation($id: ID!) { revokeInvitation(id: $id) { __typename } }',
    variables: ({ params }) => ({ id: params.id }),
  }),
];
