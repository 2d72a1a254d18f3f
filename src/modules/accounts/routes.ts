import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Orm } from '../../db/orm.js';
import { ipBudget, type RateLimit, rateLimitBy } from '../../http/rate-limit.js';
import { strict } from '../../rest/route.js';
import { tokensJson } from './present.js';
import { login, logout, refresh, type SessionSettings } from './service.js';

/**
 * The REST auth routes of the API reference (featuresignals-authentication), field for field:
 * sign-in, refresh and sign-out here; sign-up in modules/signup, SSO in modules/sso.
 */
const LoginBody = Type.Object({ email: Type.String(), password: Type.String() }, strict);
const RefreshBody = Type.Object({ refresh_token: Type.String() }, strict);

export function registerAuthRoutes(
  app: FastifyInstance,
  deps: { orm: Orm; settings: SessionSettings; authLimit: RateLimit },
) {
  // The same budget key as the GraphQL auth mutations (graphql/limits.ts): one budget per address.
  const perIp = rateLimitBy(deps.authLimit, (req) => ipBudget(req.ip));

  app.post('/v1/auth/login', { schema: { body: LoginBody }, preHandler: perIp }, async (req) => {
    const { user, tokens } = await login(
      deps.orm.em.fork(),
      deps.settings,
      req.body as { email: string; password: string },
    );
    return { user: { id: user.id, email: user.email, name: user.name }, tokens: tokensJson(tokens) };
  });

  app.post('/v1/auth/refresh', { schema: { body: RefreshBody }, preHandler: perIp }, async (req) => {
    const { refresh_token } = req.body as { refresh_token: string };
    return tokensJson(await refresh(deps.orm.em.fork(), deps.settings, refresh_token));
  });

  app.post('/v1/auth/logout', { schema: { body: RefreshBody }, preHandler: perIp }, async (req, reply) => {
    const { refresh_token } = req.body as { refresh_token: string };
    await logout(deps.orm.em.fork(), deps.settings, refresh_token);
    return reply.status(204).send();
  });
}
