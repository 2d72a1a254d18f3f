import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type ExecutionArgs, GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, maskError as defaultMaskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { DomainError } from '../errors.js';
import { headerValue } from '../http/headers.js';
import type { RateLimit } from '../http/rate-limit.js';
import type { ContextFactory, GraphQLContext } from './context.js';

/** What yoga's envelop gets per operation; the graphql-ws server (realtime/ws.ts) passes the same `ctx`. */
export type ServerContext = { req?: FastifyRequest; reply?: FastifyReply; ctx: GraphQLContext };

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

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

/** A DomainError as the GraphQL error body a door answers before any operation runs. */
export function domainErrorBody(e: DomainError) {
  return { errors: [{ message: e.message, extensions: { code: e.code } }] };
}

/**
 * An operation whose rootValue brings its own `subscribeWith` (a graphql-ws fast path,
 * realtime/ws.ts) subscribes with it in place of the engine's, inside every plugin's hooks.
 */
const useRootSubscribe = (): Plugin => ({
  onSubscribe({ args, setSubscribeFn }) {
    const own = (args.rootValue as { subscribeWith?: (args: ExecutionArgs) => unknown } | undefined)?.subscribeWith;
    if (typeof own === 'function') setSubscribeFn(own as never);
  },
});

export interface GraphQLPluginOptions {
  schema: GraphQLSchema;
  context: ContextFactory;
  managementLimit: RateLimit;
  anonymousLimit: RateLimit;
}

declare module 'fastify' {
  interface FastifyInstance {
    yoga: Yoga;
    /** Builds the GraphQL context of an operation; every door (HTTP, graphql-ws) uses it. */
    graphqlContext: ContextFactory;
  }
}

/** `/graphql`: GraphQL over HTTP (GET, POST) and over SSE (subscriptions), and GraphiQL in a browser. */
export const graphqlPlugin = fp(
  async (app: FastifyInstance, options: GraphQLPluginOptions) => {
    const yoga: Yoga = createYoga<ServerContext, GraphQLContext>({
      schema: options.schema,
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
      plugins: [useRootSubscribe()],
      context: ({ ctx }) => ctx,
    });

    app.route({
      url: '/graphql',
      method: ['GET', 'POST', 'OPTIONS'],
      handler: async (req, reply) => {
        let ctx: GraphQLContext;
        try {
          ctx = await options.context(
            {
              authorization: headerValue(req.headers.authorization),
              'api-key': headerValue(req.headers['api-key']),
              sdkKey: headerValue(req.headers['x-api-key']) ?? null,
              origin: headerValue(req.headers.origin) ?? null,
            },
            req.id,
          );
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          return reply.status(e.status).send(domainErrorBody(e));
        }
        // Per token (or member) for authenticated calls, per client IP for anonymous ones.
        if (req.method === 'POST') {
          const { principal } = ctx;
          if (principal)
            await options.managementLimit.check(principal.tokenId ?? principal.userId ?? 'anonymous', reply);
          else await options.anonymousLimit.check(req.ip, reply);
        }
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

    app.decorate('yoga', yoga);
    app.decorate('graphqlContext', options.context);
  },
  { name: 'graphql' },
);
