import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import { createYoga, maskError as defaultMaskError } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import { resolvePrincipal } from '../auth/resolve.js';
import type { Clock } from '../clock.js';
import type { Orm } from '../db/orm.js';
import { DomainError } from '../errors.js';
import type { RateLimit } from '../http/rate-limit.js';
import type { SessionSettings } from '../modules/accounts/service.js';
import type { LiveServices } from '../realtime/subscriptions.js';
import type { GraphQLContext } from './context.js';
import { schema } from './schema.js';

/** What yoga's envelop gets per operation; the graphql-ws server (realtime/ws.ts) passes the same `ctx`. */
export type ServerContext = { req?: FastifyRequest; reply?: FastifyReply; ctx: GraphQLContext };

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
  /** For subscriptions (GraphQL over SSE here, graphql-ws in realtime/ws.ts). */
  live: LiveServices;
}

const header = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : null);

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
      let principal: Principal;
      try {
        principal = await resolvePrincipal(em, req.headers, options.settings.jwtSecret);
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        return reply.status(e.status).send({ errors: [{ message: e.message, extensions: { code: e.code } }] });
      }
      // Per token (or member) for authenticated calls, per client IP for anonymous ones.
      if (req.method === 'POST') {
        if (principal) await options.managementLimit.check(principal.tokenId ?? principal.userId ?? 'anonymous', reply);
        else await options.anonymousLimit.check(req.ip, reply);
      }
      const ctx: GraphQLContext = {
        em,
        principal,
        settings: options.settings,
        clock: options.clock,
        refreshKeys: options.refreshKeys,
        requestId: req.id,
        live: {
          ...options.live,
          credentials: { authorization: req.headers.authorization, 'api-key': req.headers['api-key'] },
          sdkKey: header(req.headers['x-api-key']),
          origin: header(req.headers.origin),
        },
      };
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply, ctx });
      response.headers.forEach((value, key) => void reply.header(key, value));
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
        // A subscription over SSE: streamed as it comes (@fastify/compress leaves event streams
        // alone). The connection is not reused afterwards, so a shutdown that ends the stream is
        // not kept waiting for the client to drop an idle keep-alive socket.
        reply.header('cache-control', 'no-store').header('x-accel-buffering', 'no').header('connection', 'close');
      }
      reply.status(response.status);
      return reply.send(response.body);
    },
  });

  return yoga;
}
