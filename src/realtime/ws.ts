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
  /**
   * Sends one text message, `head` followed by `body` (UTF-8 already), as one frame; false when
   * the socket is no longer open. A body shared by many subscribers is encoded once, and only
   * the head (naming the operation) is theirs.
   */
  send(head: string, body: Buffer): boolean;
}

/** Messages up to this size are framed into one buffer (one write); larger ones go out as two writes. */
const ONE_WRITE_BYTES = 16 * 1024;

/** The head of an unmasked, final text frame of `length` bytes (RFC 6455, 5.2). */
function textFrameHead(length: number, into: Buffer): number {
  into[0] = 0x81;
  if (length < 126) {
    into[1] = length;
    return 2;
  }
  if (length < 0x10000) {
    into[1] = 126;
    into.writeUInt16BE(length, 2);
    return 4;
  }
  into[1] = 127;
  into.writeUInt32BE(Math.floor(length / 0x100000000), 2);
  into.writeUInt32BE(length >>> 0, 6);
  return 10;
}

/**
 * A sink's send: the frame built here and written to the connection's socket directly, which
 * saves ws' per-send option object, header allocation and two-buffer (corked) write. It keeps
 * ws' order because ws writes synchronously whenever no extension is negotiated (nothing is
 * ever queued behind a compression); with one (permessage-deflate, off on this server) it
 * falls back to ws' own send.
 */
function directSend(ws: WebSocket, raw: Duplex | undefined, head: string, body: Buffer): boolean {
  if (ws.readyState !== ws.OPEN) return false;
  const headBytes = Buffer.byteLength(head, 'utf8');
  const length = headBytes + body.length;
  if (raw === undefined || raw.destroyed || ws.extensions !== '') {
    const message = Buffer.allocUnsafe(length);
    message.write(head, 0, 'utf8');
    body.copy(message, headBytes);
    ws.send(message, { binary: false });
    return true;
  }
  if (length <= ONE_WRITE_BYTES) {
    const frame = Buffer.allocUnsafe(length + 10);
    const at = textFrameHead(length, frame);
    frame.write(head, at, 'utf8');
    body.copy(frame, at + headBytes);
    raw.write(frame.subarray(0, at + length));
    return true;
  }
  // A large message: the frame's head and the message's head in one buffer, the body as it is.
  const start = Buffer.allocUnsafe(10 + headBytes);
  const at = textFrameHead(length, start);
  start.write(head, at, 'utf8');
  raw.cork();
  raw.write(start.subarray(0, at + headBytes));
  raw.write(body);
  raw.uncork();
  return true;
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
    // Each connection's own socket, for fast-path sends (directSend).
    const sockets = new WeakMap<WebSocket, Duplex>();
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
          wss.handleUpgrade(req, socket, head, (ws) => {
            sockets.set(ws, socket);
            wss.emit('connection', ws, req);
          });
        },
        (err: Error) => {
          socket.off('error', lost);
          app.log.error({ err }, 'WebSocket upgrade check failed');
          refuseUpgrade(req, socket, { error: err });
        },
      );
    };
    app.server.on('upgrade', onUpgrade);

    const server = useServer<
      Record<string, unknown> | undefined,
      { credentials?: RequestCredentials; clientIp?: string }
    >(
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
          const clientIp = ip(ctx.extra.request);
          try {
            const context = await app.graphqlContext(credentials, { requestId: randomUUID(), clientIp });
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
          ctx.extra.clientIp = clientIp;
          // What later operations need of the upgrade request is kept above; the request itself
          // (headers, raw headers, stream state: about a kilobyte) is not kept for the socket's life.
          (ctx.extra as { request: IncomingMessage | null }).request = null;
          return true;
        },
        onSubscribe: async (ctx, id, payload) => {
          let context: GraphQLContext;
          try {
            // Read again per operation: a long-lived socket does not keep a role it lost. The
            // connection spent its SSO JWT (if any) in onConnect; this only checks it again.
            context = await app.graphqlContext(
              ctx.extra.credentials!,
              { requestId: randomUUID(), clientIp: ctx.extra.clientIp! },
              { recheck: true },
            );
          } catch (thrown) {
            const e = asDomainError(thrown);
            if (!e) throw thrown;
            return [new GraphQLError(e.message, { extensions: { code: e.code } })];
          }
          // The door's context is yoga's own (it names itself as `ctx`): one object per operation.
          const { schema, execute, subscribe, contextFactory, parse, validate } = app.yoga.getEnveloped(context);
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
              const socket = ctx.extra.socket;
              root.subscribeWith = directSubscribe(plan, {
                socket,
                id,
                send: (head, body) => directSend(socket, sockets.get(socket), head, body),
              });
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
