import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import { createYoga, maskError as defaultMaskError } from 'graphql-yoga';
import type { Clock } from '../clock.js';
import type { Orm } from '../db/orm.js';
import { DomainError } from '../errors.js';
import { resolvePrincipal } from '../auth/resolve.js';
import type { RateLimit } from '../http/rate-limit.js';
import type { SessionSettings } from '../modules/accounts/service.js';
import type { GraphQLContext } from './context.js';
import { schema } from './schema.js';

type ServerContext = { req: FastifyRequest; reply: FastifyReply; ctx: GraphQLContext };

/** Domain errors keep their message and get their code; anything else is masked and logged. */
export function toGraphQLError(error: unknown, message: string, isDev?: boolean): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof DomainError) {
    const base = error instanceof GraphQLError ? error : undefined;
    return new GraphQLError(original.message, {
      nodes: base?.nodes,
      source: base?.source,
      positions: base?.positions,
      path: base?.path,
      extensions: {
        code: original.code,
        ...(original.details ? { details: original.details } : {}),
        ...(original.code === 'VALIDATION' ? { http: { status: 400 } } : {}),
      },
    });
  }
  return defaultMaskError(error, message, isDev);
}

export interface GraphQLRouteOptions {
  orm: Orm;
  settings: SessionSettings;
  clock: Clock;
  refreshKeys(environmentId: string): Promise<void>;
  managementLimit: RateLimit;
  anonymousLimit: RateLimit;
}

export function registerGraphQL(app: FastifyInstance, options: GraphQLRouteOptions) {
  const yoga = createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    logging: {
      debug: (...args) => app.log.debug(args.map(String).join(' ')),
      info: (...args) => app.log.info(args.map(String).join(' ')),
      warn: (...args) => app.log.warn(args.map(String).join(' ')),
      error: (...args) => app.log.error(args.map(String).join(' ')),
    },
    maskedErrors: { maskError: toGraphQLError },
    graphiql: { title: 'Vexil GraphiQL' },
    landingPage: false,
    context: ({ ctx }) => ctx,
  });

  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    handler: async (req, reply) => {
      const em = options.orm.em.fork();
      let principal;
      try {
        principal = await resolvePrincipal(em, req.headers, options.settings.jwtSecret);
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        return reply
          .status(e.status)
          .send({ errors: [{ message: e.message, extensions: { code: e.code } }] });
      }
      // Per token (or member) for authenticated calls, per client IP for anonymous ones.
      if (req.method === 'POST') {
        if (principal) await options.managementLimit.check(principal.tokenId ?? principal.userId ?? 'anonymous', reply);
        else await options.anonymousLimit.check(req.ip, reply);
      }
      const ctx: GraphQLContext = { em, principal, settings: options.settings, clock: options.clock, refreshKeys: options.refreshKeys, requestId: req.id };
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply, ctx });
      response.headers.forEach((value, key) => void reply.header(key, value));
      reply.status(response.status);
      return reply.send(response.body);
    },
  });

  return yoga;
}
