import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { SessionSettings } from '../../auth/session.js';
import type { Orm } from '../../db/orm.js';
import { ipBudget, type RateLimit, rateLimitBy } from '../../http/rate-limit.js';
import { orgJson, tokensJson, userJson } from '../accounts/present.js';
import type { EnvironmentProvisioner } from '../projects/service.js';
import { register } from './service.js';

const RegisterBody = Type.Object(
  { email: Type.String(), password: Type.String(), name: Type.String(), org_name: Type.String() },
  { additionalProperties: false },
);

/** `POST /v1/auth/register` of the API reference: a person, their organization and its Default project. */
export function registerSignupRoute(
  app: FastifyInstance,
  deps: {
    orm: Orm;
    settings: SessionSettings;
    authLimit: RateLimit;
    environmentProvisioners: readonly EnvironmentProvisioner[];
  },
) {
  const perIp = rateLimitBy(deps.authLimit, (req) => ipBudget(req.ip));
  app.post('/v1/auth/register', { schema: { body: RegisterBody }, preHandler: perIp }, async (req, reply) => {
    const body = req.body as { email: string; password: string; name: string; org_name: string };
    const { user, organization, tokens } = await register(
      deps.orm.em.fork(),
      deps.settings,
      { email: body.email, password: body.password, name: body.name, orgName: body.org_name },
      deps.environmentProvisioners,
    );
    return reply
      .status(201)
      .send({ user: userJson(user), organization: orgJson(organization), tokens: tokensJson(tokens) });
  });
}
