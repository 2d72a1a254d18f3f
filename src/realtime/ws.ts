import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute as executeEvent,
  GraphQLError,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { asDomainError } from '../db/errors.js';
import { NotFoundError, shuttingDown } from '../errors.js';
import type { GraphQLContext, RequestCredentials } from '../graphql/context.js';
import { headerValue } from '../http/headers.js';
import { clientAddress, trustOf } from '../http/proxy.js';
import { refuseUpgrade, type UpgradeRules, upgradeGate } from './upgrade.js';

/**
 * GraphQL over WebSocket (`graphql-transport-ws`, the graphql-ws protocol) on /graphql of the
 * same HTTP server, executed by yoga's envelop so plugins, masking and the schema are shared
 * with the HTTP door, with the same context factory. Credentials travel in `connection_init`:
 *   {"authorization": "Bearer <access JWT | vx_pat_… | vx_sat_…>"} and/or {"x-api-key": "vx_…"}.
 * A credential that does not check out closes the socket with 4401 (unknown, expired) or 4403
 * (deactivated token, origin not allowed for a client-side ID).
 * Before that, the upgrade itself obeys REQUIRE_HTTPS and a per-IP rate limit (upgrade.ts).
 */

/** Where a fast path may write results itself: the operation's socket and id. */
export interface DirectSink {
  socket: WebSocket;
  id: string;
}

/**
 * A subscription whose events a module puts on the socket itself, skipping graphql-js's
 * per-event execution where it can build the same result more cheaply (modules/sdk/live.ts).
 * `plan` looks at the document once per operation; the plan then gets the resolver's own source
 * stream, a function that executes an event the general way, and the sink.
 */
export interface DirectSubscriptions {
  plan(
    document: DocumentNode,
    operationName: string | null | undefined,
  ):
    | ((
        source: AsyncIterable<unknown>,
        execute: (event: unknown) => Promise<ExecutionResult>,
        sink: DirectSink,
      ) => AsyncIterableIterator<ExecutionResult> | null)
    | null;
}

interface OperationRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
  /** Set for a fast-path operation: envelop subscribes with it (graphql/yoga.ts, useRootSubscribe). */
  subscribeWith?(args: ExecutionArgs): Promise<unknown>;
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';

/** graphql-js's subscribe (source stream, then one execution per event), with the plan's own mapping. */
function directSubscribe(plan: NonNullable<ReturnType<DirectSubscriptions['plan']>>, sink: DirectSink) {
  return async (args: ExecutionArgs): Promise<unknown> => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const execute = async (event: unknown) => (await executeEvent({ ...args, rootValue: event })) as ExecutionResult;
    const direct = plan(source, execute, sink);
    if (direct) return direct;
    const iterator = source[Symbol.asyncIterator]();
    return {
      next: async () => {
        const item = await iterator.next();
        return item.done ? item : { done: false, value: await execute(item.value) };
      },
      return: () => iterator.return?.() ?? Promise.resolve({ done: true, value: undefined }),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  };
}

export interface WebSocketOptions {
  /** REQUIRE_HTTPS, TRUST_PROXY and the per-IP limit, checked before an upgrade is accepted. */
  upgrade: UpgradeRules;
  fastPaths: readonly DirectSubscriptions[];
  /** What else a connection must pass at `connection_init` (an SDK key, say); each throws a DomainError. */
  connectionChecks: readonly ((context: GraphQLContext) => Promise<void>)[];
  path?: string;
}

export interface GraphQLWebSocket {
  /** Connected sockets. */
  readonly clients: number;
  /** Refuses new upgrades and closes every socket with 1001 (going away). */
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    graphqlWebSocket: GraphQLWebSocket;
  }
}

/**
 * graphql-ws on the server's upgrade event. Shutdown closes every socket with 1001 (going away)
 * before anything ends their subscriptions, so graphql-ws clients reconnect elsewhere and
 * resubscribe rather than see their subscriptions complete.
 */
export const graphqlWebSocketPlugin = fp(
  async (app: FastifyInstance, options: WebSocketOptions) => {
    const path = options.path ?? '/graphql';
    const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
    let closing = false;

    const admit = upgradeGate(options.upgrade);
    const trusted = trustOf(options.upgrade.trustProxy);
    const ip = (req: IncomingMessage) => clientAddress(req, trusted);
    // The 101 of an admitted upgrade carries its X-RateLimit-* headers, as any limited response does.
    const admitted = new WeakMap<IncomingMessage, Record<string, string>>();
    wss.on('headers', (headers, req) => {
      for (const [name, value] of Object.entries(admitted.get(req) ?? {})) headers.push(`${name}: ${value}`);
    });

    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const pathname = (req.url ?? '/').split('?')[0];
      if (closing) return refuseUpgrade(req, socket, { error: shuttingDown() });
      if (pathname !== path)
        return refuseUpgrade(req, socket, { error: new NotFoundError(`route ${req.method} ${pathname}`) });
      // Node removed its own socket listeners before emitting `upgrade`; until `ws` adds its
      // own, an error (the client gone while the limit is looked up) must not go unhandled.
      const lost = () => socket.destroy();
      socket.on('error', lost);
      admit(req).then(
        (verdict) => {
          socket.off('error', lost);
          if (socket.destroyed) return;
          if (verdict.refusal) return refuseUpgrade(req, socket, verdict.refusal);
          if (closing) return refuseUpgrade(req, socket, { error: shuttingDown() });
          admitted.set(req, verdict.headers);
          wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
        },
        (err: Error) => {
          socket.off('error', lost);
          app.log.error({ err }, 'WebSocket upgrade check failed');
          refuseUpgrade(req, socket, { error: err });
        },
      );
    };
    app.server.on('upgrade', onUpgrade);

    const server = useServer<Record<string, unknown> | undefined, { credentials?: RequestCredentials }>(
      {
        execute: (args: ExecutionArgs) => (args.rootValue as OperationRoot).execute(args) as never,
        subscribe: (args: ExecutionArgs) => (args.rootValue as OperationRoot).subscribe(args) as never,
        onConnect: async (ctx) => {
          const params = ctx.connectionParams ?? {};
          const credentials: RequestCredentials = {
            authorization: headerValue(params['authorization'] ?? params['Authorization']),
            'api-key': headerValue(params['api-key']),
            sdkKey: headerValue(params['x-api-key'] ?? params['X-API-Key']) ?? null,
            origin: headerValue(ctx.extra.request.headers.origin) ?? null,
          };
          try {
            const context = await app.graphqlContext(credentials, {
              requestId: randomUUID(),
              clientIp: ip(ctx.extra.request),
            });
            for (const check of options.connectionChecks) await check(context);
          } catch (thrown) {
            const e = asDomainError(thrown);
            if (!e) throw thrown;
            // graphql-ws answers `false` with 4403; an unknown or expired credential is a 401, and
            // a database that is away a "try again later".
            if (e.code === 'UNAUTHENTICATED') ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
            else if (e.code === 'SERVICE_UNAVAILABLE') ctx.extra.socket.close(1013, 'Try Again Later');
            return false;
          }
          ctx.extra.credentials = credentials;
          return true;
        },
        onSubscribe: async (ctx, id, payload) => {
          let context: GraphQLContext;
          try {
            // Read again per operation: a long-lived socket does not keep a role it lost. The
            // connection spent its SSO JWT (if any) in onConnect; this only checks it again.
            context = await app.graphqlContext(
              ctx.extra.credentials!,
              { requestId: randomUUID(), clientIp: ip(ctx.extra.request) },
              { recheck: true },
            );
          } catch (thrown) {
            const e = asDomainError(thrown);
            if (!e) throw thrown;
            return [new GraphQLError(e.message, { extensions: { code: e.code } })];
          }
          const { schema, execute, subscribe, contextFactory, parse, validate } = app.yoga.getEnveloped({
            ctx: context,
          });
          let document: DocumentNode;
          try {
            document = parse(payload.query);
          } catch (e) {
            return [e instanceof GraphQLError ? e : new GraphQLError('could not parse the query')];
          }
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          const root: OperationRoot = { execute, subscribe };
          for (const fastPath of options.fastPaths) {
            const plan = fastPath.plan(document, payload.operationName);
            if (plan) {
              root.subscribeWith = directSubscribe(plan, { socket: ctx.extra.socket, id });
              break;
            }
          }
          return {
            schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: root,
          };
        },
      },
      wss,
    );

    const ws: GraphQLWebSocket = {
      get clients() {
        return wss.clients.size;
      },
      async close() {
        closing = true;
        app.server.off('upgrade', onUpgrade);
        await Promise.resolve(server.dispose()).catch(() => undefined);
      },
    };
    app.decorate('graphqlWebSocket', ws);
    app.addHook('preClose', () => ws.close());
  },
  { name: 'graphql-ws', dependencies: ['graphql'] },
);
