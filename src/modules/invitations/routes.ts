import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { SessionSettings } from '../../auth/session.js';
import { setRequestOrigin } from '../../db/origin.js';
import type { Orm } from '../../db/orm.js';
import { ipBudget, type RateLimit, rateLimitBy } from '../../http/rate-limit.js';
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
