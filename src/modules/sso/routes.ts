import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { SessionSettings } from '../../auth/session.js';
import type { Orm } from '../../db/orm.js';
import { ipBudget, type RateLimit, rateLimitBy } from '../../http/rate-limit.js';
import { orgJson, tokensJson, userJson } from '../accounts/present.js';
import { exchangeSsoToken } from './service.js';

const SsoBody = Type.Object({ token: Type.String() }, { additionalProperties: false });

/**
 * Single sign-on, `POST /v1/auth/sso`: an HS256 JWT signed with the organization's SSO secret,
 * carrying `org` (id or slug), `email` or `sub`, `jti` and `exp`, for a session bound to that
 * organization. An email no account holds gets a new account the organization manages (docs/sso.md).
 */
export function registerSsoRoute(
  app: FastifyInstance,
  deps: { orm: Orm; settings: SessionSettings; authLimit: RateLimit },
) {
  const perIp = rateLimitBy(deps.authLimit, (req) => ipBudget(req.ip));
  app.post('/v1/auth/sso', { schema: { body: SsoBody }, preHandler: perIp }, async (req) => {
    const { token } = req.body as { token: string };
    const { user, organization, tokens } = await exchangeSsoToken(deps.orm.em.fork(), deps.settings, token);
    return { user: userJson(user), organization: orgJson(organization), tokens: tokensJson(tokens) };
  });
}
