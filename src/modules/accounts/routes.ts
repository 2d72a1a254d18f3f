import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Orm } from '../../db/orm.js';
import { ipBudget, type RateLimit, rateLimitBy } from '../../http/rate-limit.js';
import { exchangeSsoToken } from '../sso/service.js';
import type { Organization, User } from './entity.js';
import { login, logout, refresh, register, type SessionSettings, type TokenPair } from './service.js';

/** The REST auth routes of the API reference (featuresignals-authentication), field for field. */
const strict = { additionalProperties: false } as const;
const RegisterBody = Type.Object(
  { email: Type.String(), password: Type.String(), name: Type.String(), org_name: Type.String() },
  strict,
);
const LoginBody = Type.Object({ email: Type.String(), password: Type.String() }, strict);
const RefreshBody = Type.Object({ refresh_token: Type.String() }, strict);
const SsoBody = Type.Object({ token: Type.String() }, strict);

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const userJson = (u: User) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  created_at: iso(u.createdAt),
  updated_at: iso(u.updatedAt),
});
const orgJson = (o: Organization) => ({
  id: o.id,
  name: o.name,
  slug: o.slug,
  created_at: iso(o.createdAt),
  updated_at: iso(o.updatedAt),
});
const tokensJson = (t: TokenPair) => ({
  access_token: t.accessToken,
  refresh_token: t.refreshToken,
  expires_at: t.expiresAt,
});

export function registerAuthRoutes(
  app: FastifyInstance,
  deps: { orm: Orm; settings: SessionSettings; authLimit: RateLimit },
) {
  // The same budget key as the GraphQL auth mutations (graphql/limits.ts): one budget per address.
  const perIp = rateLimitBy(deps.authLimit, (req) => ipBudget(req.ip));

  app.post('/v1/auth/register', { schema: { body: RegisterBody }, preHandler: perIp }, async (req, reply) => {
    const body = req.body as { email: string; password: string; name: string; org_name: string };
    const { user, organization, tokens } = await register(deps.orm.em.fork(), deps.settings, {
      email: body.email,
      password: body.password,
      name: body.name,
      orgName: body.org_name,
    });
    return reply
      .status(201)
      .send({ user: userJson(user), organization: orgJson(organization), tokens: tokensJson(tokens) });
  });

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

  // Single sign-on: an HS256 JWT signed with the organization's SSO secret, carrying `org`
  // (id or slug), `email` or `sub`, `jti` and `exp`, for a session bound to that organization.
  // An email no account holds gets a new account the organization manages (docs/sso.md).
  app.post('/v1/auth/sso', { schema: { body: SsoBody }, preHandler: perIp }, async (req) => {
    const { token } = req.body as { token: string };
    const { user, organization, tokens } = await exchangeSsoToken(deps.orm.em.fork(), deps.settings, token);
    return { user: userJson(user), organization: orgJson(organization), tokens: tokensJson(tokens) };
  });
}
