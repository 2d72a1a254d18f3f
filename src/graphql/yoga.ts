import { useGraphQlJit } from '@envelop/graphql-jit';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type DocumentNode, type ExecutionArgs, GraphQLError, type GraphQLSchema, getOperationAST } from 'graphql';
import { createYoga, maskError as defaultMaskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { asDomainError } from '../db/errors.js';
import { type DomainError, ServiceUnavailableError } from '../errors.js';
import { errorAnswer, statusOf } from '../http/envelope.js';
import { headerValue } from '../http/headers.js';
import { yogaLogger } from '../http/logging.js';
import { type ContextFactory, type GraphQLContext, joinContext } from './context.js';

/** What yoga's envelop gets per operation; the graphql-ws server (realtime/ws.ts) passes the same `ctx`. */
export type ServerContext = { req?: FastifyRequest; reply?: FastifyReply; ctx: GraphQLContext };

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

/** Domain errors keep their message and get their code; anything else is masked and logged. */
export function toGraphQLError(error: unknown, message: string, isDev?: boolean): Error {
  const original = asDomainError(error instanceof GraphQLError ? error.originalError : error);
  if (original) {
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
        // When to come back: sent as Retry-After (yoga keeps `http` out of the body).
        ...(original instanceof ServiceUnavailableError
          ? { http: { headers: { 'retry-after': String(original.retryAfterSeconds) } } }
          : {}),
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
    const root = args.rootValue as { subscribeWith?(args: ExecutionArgs): unknown } | undefined;
    // A method of the root (called on it): the function set here lives only while subscribing.
    if (typeof root?.subscribeWith === 'function')
      setSubscribeFn(((a: ExecutionArgs) => root.subscribeWith!(a)) as never);
  },
});

export interface GraphQLPluginOptions {
  schema: GraphQLSchema;
  context: ContextFactory;
  /** Envelop plugins every door's operations go through (limits, input checks). */
  plugins: Plugin[];
}

declare module 'fastify' {
  interface FastifyInstance {
    yoga: Yoga;
    /** Builds the GraphQL context of an operation; every door (HTTP, graphql-ws) uses it. */
    graphqlContext: ContextFactory;
  }
}

/**
 * The operation's context is the one its door built (`ctx`), joined to yoga's (graphql/context.ts
 * `joinContext`): the unit of work stays forked on first use, which yoga's `context` option would
 * read eagerly (it merges with Object.assign). graphql-ws passes its context as yoga's own.
 */
function useDoorContext(): Plugin<ServerContext> {
  return {
    onContextBuilding({ context }) {
      joinContext(context, context.ctx);
    },
  };
}

/**
 * What yoga would fail to read in a request's GraphQL parameters, found before it reads them:
 * a GET's `variables` / `extensions` that are not JSON (yoga throws a plain SyntaxError, a 500),
 * and a POST body fastify parsed that is not an object with members (yoga then reads the
 * consumed stream again and answers "invalid JSON" with the parser's error attached).
 */
export function graphqlRequestProblem(method: string, url: string, body: unknown): string | null {
  if (method === 'GET') {
    const q = url.indexOf('?');
    if (q < 0) return null;
    const params = new URLSearchParams(url.slice(q + 1));
    for (const name of ['variables', 'extensions']) {
      const value = params.get(name);
      if (value === null || value === '') continue;
      try {
        JSON.parse(value);
      } catch {
        return `Expected "${name}" param to be valid JSON.`;
      }
    }
    return null;
  }
  if (method !== 'POST' || body === undefined) return null;
  if (Array.isArray(body)) return 'Batching is not supported.';
  if (body === null || typeof body !== 'object')
    return `Expected the POST body to be an object, but given ${body === null ? 'null' : typeof body}.`;
  if (Object.keys(body).length === 0) return 'Must provide query string.';
  return null;
}

/** Query documents run once already (yoga's parser cache hands out one document per query text). */
const seenQueries = new WeakSet<DocumentNode>();

/** `/graphql`: GraphQL over HTTP (GET, POST) and over SSE (subscriptions), and GraphiQL in a browser. */
export const graphqlPlugin = fp(
  async (app: FastifyInstance, options: GraphQLPluginOptions) => {
    const yoga: Yoga = createYoga<ServerContext, GraphQLContext>({
      schema: options.schema,
      graphqlEndpoint: '/graphql',
      logging: yogaLogger(app.log),
      maskedErrors: { maskError: toGraphQLError },
      graphiql: { title: 'Vexil GraphiQL' },
      landingPage: false,
      plugins: [
        useDoorContext(),
        useRootSubscribe(),
        ...options.plugins,
        // Queries that come back run compiled (graphql-jit, once per document): a dashboard
        // page resolves thousands of fields, and the generic executor's per-field bookkeeping
        // was most of its cost. A document's first run uses graphql-js's executor, so a query
        // seen once never pays for a compilation; mutations and subscriptions always do.
        useGraphQlJit(
          {},
          {
            enableIf: (args) => {
              if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return false;
              if (seenQueries.has(args.document)) return true;
              seenQueries.add(args.document);
              return false;
            },
            onError: () => undefined,
          },
        ),
      ],
    });

    app.route({
      url: '/graphql',
      method: ['GET', 'POST', 'OPTIONS'],
      // Operations are checked argument by argument, answering GraphQL errors (graphql/inputs.ts).
      config: { checksOwnInput: true },
      // A body refused before the handler (not JSON, too large, not application/json) or a hook's
      // refusal (shutdown) is answered as GraphQL errors with a typed code too, not the REST envelope.
      errorHandler(error: FastifyError, req, reply) {
        const e = asDomainError(error);
        if (e) return reply.status(e.status).headers(errorAnswer(req.id, e).headers).send(domainErrorBody(e));
        const { status, message } = statusOf(error);
        if (status >= 500) throw error;
        return reply.status(status).send({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
      },
      handler: async (req, reply) => {
        const problem = graphqlRequestProblem(req.method, req.url, req.body);
        if (problem !== null)
          return reply.status(400).send({ errors: [{ message: problem, extensions: { code: 'BAD_REQUEST' } }] });
        let ctx: GraphQLContext;
        try {
          ctx = await options.context(
            {
              authorization: headerValue(req.headers.authorization),
              'api-key': headerValue(req.headers['api-key']),
              sdkKey: headerValue(req.headers['x-api-key']) ?? null,
              origin: headerValue(req.headers.origin) ?? null,
            },
            { requestId: req.id, clientIp: req.ip },
          );
        } catch (thrown) {
          const e = asDomainError(thrown);
          if (!e) throw thrown;
          return reply.status(e.status).headers(errorAnswer(req.id, e).headers).send(domainErrorBody(e));
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
        // A single result is one string already: sent as is, not piped through a web stream.
        if (!response.headers.get('content-type')?.startsWith('text/event-stream'))
          return reply.send(await response.text());
        return reply.send(response.body);
      },
    });

    app.decorate('yoga', yoga);
    app.decorate('graphqlContext', options.context);
  },
  { name: 'graphql' },
);
