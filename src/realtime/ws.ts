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
  parse,
} from 'graphql';
import {
  CloseCode,
  type Context,
  type WebSocket as GraphQLWsSocket,
  handleProtocols,
  MessageType,
  makeServer,
  parseMessage,
  type SubscribeMessage,
  type SubscribePayload,
  stringifyMessage,
} from 'graphql-ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { asDomainError } from '../db/errors.js';
import { NotFoundError, shuttingDown } from '../errors.js';
import type { GraphQLContext, RequestCredentials } from '../graphql/context.js';
import { toGraphQLError } from '../graphql/yoga.js';
import { newRequestId } from '../http/envelope.js';
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
  /** Executes one event of the operation's source stream the general way (graphql-js). */
  executeEvent(event: unknown): Promise<ExecutionResult>;
  /**
   * The stream is over by itself: sends `last` (the result of the event that ended it, an error)
   * when given, then `complete`. Nothing once the operation was completed or its socket closed.
   */
  done(last?: ExecutionResult): void;
}

/** Messages up to this size are framed into one buffer (one write); larger ones go out as two writes. */
const ONE_WRITE_BYTES = 16 * 1024;

/** The length of the head of an unmasked text frame carrying `length` bytes (RFC 6455, 5.2). */
const frameHeadLength = (length: number) => (length < 126 ? 2 : length < 0x10000 ? 4 : 10);

/** Writes the head of an unmasked, final text frame of `length` bytes at the start of `into`. */
function textFrameHead(length: number, into: Buffer): void {
  into[0] = 0x81;
  if (length < 126) {
    into[1] = length;
  } else if (length < 0x10000) {
    into[1] = 126;
    into[2] = length >>> 8;
    into[3] = length & 0xff;
  } else {
    into[1] = 127;
    into.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    into.writeUInt32BE(length >>> 0, 6);
  }
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
  const at = frameHeadLength(length);
  if (length <= ONE_WRITE_BYTES) {
    // One buffer of the frame's exact size: one write, no view of a larger allocation.
    const frame = Buffer.allocUnsafe(at + length);
    textFrameHead(length, frame);
    frame.write(head, at, 'utf8');
    body.copy(frame, at + headBytes);
    raw.write(frame);
    return true;
  }
  // A large message: the frame's head and the message's head in one buffer, the body as it is.
  const start = Buffer.allocUnsafe(at + headBytes);
  textFrameHead(length, start);
  start.write(head, at, 'utf8');
  raw.cork();
  raw.write(start);
  raw.write(body);
  raw.uncork();
  return true;
}

/**
 * A subscription a module serves on the socket itself (modules/sdk/live.ts): graphql-js's
 * per-event execution and graphql-ws' per-operation loop are skipped where the module can build
 * the same messages more cheaply. Subscribing still goes through yoga's envelop (auth, limits,
 * validation, the resolver's checks). `plan` looks at the document once per operation; the plan
 * then gets the resolver's own source stream and the sink (which also executes an event the
 * general way), and answers the stream it will serve, or null for the general path.
 */
export interface DirectSubscriptions {
  plan(document: DocumentNode, operationName: string | null | undefined): DirectPlan | null;
}

export interface DirectPlan {
  serve(source: AsyncIterable<unknown>, sink: DirectSink): DirectStream | null;
}

/**
 * An operation's stream once it serves itself. `start` sends what it has and everything after
 * through the sink, and calls the sink's `done` once, when the stream is over by itself.
 * `return()` (the client completed, the socket closed) ends it without.
 */
export interface DirectStream extends AsyncIterableIterator<ExecutionResult> {
  start(): void;
  return(): Promise<IteratorResult<ExecutionResult>>;
}

interface OperationRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
  /** Set for a fast-path operation: envelop subscribes with it (graphql/yoga.ts, useRootSubscribe). */
  subscribeWith?(args: ExecutionArgs): Promise<unknown>;
}

/** graphql-ws' record of a connection's operations (its type is read-only to hooks). */
type Operations = Record<string, unknown>;

const sendMessage = (socket: WebSocket, message: Parameters<typeof stringifyMessage>[0]) => {
  if (socket.readyState === socket.OPEN) socket.send(stringifyMessage(message));
};

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';

/**
 * One operation served directly: where it writes, the root its execution starts from (envelop's
 * execute and subscribe, and its own subscribe), and once subscribed the stream it serves. One
 * object holds it all, methods on the prototype: an idle operation keeps no closure.
 */
class DirectOperation implements DirectSink, OperationRoot {
  stream: DirectStream | null = null;
  // Envelop's, for this operation: set by `prepare` before anything runs.
  execute!: OperationRoot['execute'];
  subscribe!: OperationRoot['subscribe'];
  private args: ExecutionArgs | null = null;

  constructor(
    readonly socket: WebSocket,
    readonly id: string,
    private readonly raw: Duplex | undefined,
    private readonly plan: DirectPlan,
    private readonly operations: Operations,
  ) {}

  send(head: string, body: Buffer): boolean {
    return directSend(this.socket, this.raw, head, body);
  }

  /**
   * graphql-js's subscribe for this operation: the resolver's source stream (or its refusal, a
   * result with errors), served by the plan's stream instead of one execution per event.
   */
  async subscribeWith(args: ExecutionArgs): Promise<unknown> {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    this.args = args;
    const direct = this.plan.serve(source, this);
    if (!direct) {
      await source[Symbol.asyncIterator]().return?.();
      throw new Error('a fast path declined the source stream of an operation it planned');
    }
    return (this.stream = direct);
  }

  async executeEvent(event: unknown): Promise<ExecutionResult> {
    return (await executeEvent({ ...this.args!, rootValue: event })) as ExecutionResult;
  }

  done(last?: ExecutionResult): void {
    const { operations, id, socket } = this;
    if (this.stream === null || operations[id] !== this.stream) return;
    delete operations[id];
    if (last) sendMessage(socket, { id, type: MessageType.Next, payload: nextPayload(masked(last)) });
    sendMessage(socket, { id, type: MessageType.Complete });
  }
}

/** A result as graphql-ws' `next` message carries it (errors serialized, absent when none). */
function nextPayload(result: ExecutionResult) {
  const { errors, ...rest } = result;
  return errors ? { ...rest, errors: errors.map((e) => e.toJSON()) } : rest;
}

/** A direct stream's last result, with its errors masked as yoga masks every result it hands out. */
function masked(result: ExecutionResult): ExecutionResult {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((e) => toGraphQLError(e, 'Unexpected error.') as GraphQLError) };
}

export interface WebSocketOptions {
  /** REQUIRE_HTTPS, TRUST_PROXY and the per-IP limit, checked before an upgrade is accepted. */
  upgrade: UpgradeRules;
  fastPaths: readonly DirectSubscriptions[];
  /** What else a connection must pass at `connection_init` (an SDK key, say); each throws a DomainError. */
  connectionChecks: readonly ((context: GraphQLContext) => Promise<void>)[];
  path?: string;
  /** Ping interval: a socket that has not answered the previous ping by the next one is dropped. */
  keepAliveMs?: number;
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

interface Extra {
  socket: WebSocket;
  /** The upgrade request, until onConnect has read what later operations need of it. */
  request: IncomingMessage | null;
  credentials?: RequestCredentials;
  clientIp?: string;
}

type ConnectionContext = Context<Record<string, unknown> | undefined, Extra>;

/** Operations one connection may have running at once (each holds a stream; SDKs need one). */
export const MAX_OPERATIONS_PER_SOCKET = 100;

/** Documents of fast-path candidates are small: anything longer is left to the general path's limits. */
const DIRECT_MAX_TOKENS = 1_000;

/**
 * graphql-ws' protocol (its `makeServer`) on `ws` sockets, as graphql-ws' own `use/ws` adapter
 * does it, except that
 * - a `subscribe` message that a fast path takes is served here (serveDirect): the same checks
 *   in the same order (acknowledged, unique id), the same hooks (onSubscribe's body), the same
 *   messages; once subscribed, the operation holds no suspended frame of graphql-ws, envelop or
 *   ours, only its stream, registered where graphql-ws keeps operations so that `complete` and
 *   the socket's close end it as they end any other;
 * - one timer pings every socket (a socket that did not answer the previous ping is dropped),
 *   instead of an interval and a timeout per socket;
 * - internal errors are logged through the server's logger.
 */
export const graphqlWebSocketPlugin = fp(
  async (app: FastifyInstance, options: WebSocketOptions) => {
    const path = options.path ?? '/graphql';
    const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024, handleProtocols });
    let closing = false;

    const admit = upgradeGate(options.upgrade);
    const trusted = trustOf(options.upgrade.trustProxy);
    const ip = (req: IncomingMessage) => clientAddress(req, trusted);
    // The 101 of an admitted upgrade carries its X-RateLimit-* headers, as any limited response does.
    const admitted = new WeakMap<IncomingMessage, Record<string, string>>();
    // Each connection's own socket, for fast-path sends (directSend), and its protocol state.
    const sockets = new WeakMap<WebSocket, Duplex>();
    const connections = new WeakMap<WebSocket, ConnectionContext>();
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

    /** onSubscribe's body, shared by both paths: the operation's context, document and root. */
    const prepare = async (
      ctx: ConnectionContext,
      payload: SubscribePayload,
      direct: DirectOperation | null,
    ): Promise<readonly GraphQLError[] | ExecutionArgs> => {
      // The operation being set up is counted: graphql-ws (and serveDirect) took its id already.
      if (Object.keys(ctx.subscriptions).length > MAX_OPERATIONS_PER_SOCKET)
        return [
          new GraphQLError(`at most ${MAX_OPERATIONS_PER_SOCKET} operations may run at once on one connection`, {
            extensions: { code: 'RATE_LIMITED' },
          }),
        ];
      let context: GraphQLContext;
      try {
        // Read again per operation: a long-lived socket does not keep a role it lost. The
        // connection spent its SSO JWT (if any) in onConnect; this only checks it again.
        context = await app.graphqlContext(
          ctx.extra.credentials!,
          { requestId: newRequestId(), clientIp: ctx.extra.clientIp! },
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
      let root: OperationRoot = { execute, subscribe };
      if (direct) {
        direct.execute = execute;
        direct.subscribe = subscribe;
        root = direct;
      }
      return {
        schema,
        document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue: await contextFactory(),
        rootValue: root,
      };
    };

    const server = makeServer<Record<string, unknown> | undefined, Extra>({
      execute: (args: ExecutionArgs) => (args.rootValue as OperationRoot).execute(args) as never,
      subscribe: (args: ExecutionArgs) => (args.rootValue as OperationRoot).subscribe(args) as never,
      onConnect: async (ctx) => {
        const request = ctx.extra.request!;
        const params = ctx.connectionParams ?? {};
        const credentials: RequestCredentials = {
          authorization: headerValue(params['authorization'] ?? params['Authorization']),
          'api-key': headerValue(params['api-key']),
          sdkKey: headerValue(params['x-api-key'] ?? params['X-API-Key']) ?? null,
          origin: headerValue(request.headers.origin) ?? null,
        };
        const clientIp = ip(request);
        try {
          const context = await app.graphqlContext(credentials, { requestId: newRequestId(), clientIp });
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
        ctx.extra.request = null;
        connections.set(ctx.extra.socket, ctx);
        return true;
      },
      onSubscribe: (ctx, _id, payload) => prepare(ctx, payload, null),
    });

    const internalError = (socket: WebSocket, err: unknown) => {
      app.log.error({ err }, 'graphql-ws: internal error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    };

    const send = sendMessage;

    /**
     * Takes a `subscribe` message that a fast path serves; false leaves the message to
     * graphql-ws (anything else, and everything graphql-ws refuses: it closes the socket itself).
     */
    const claim = (socket: WebSocket, data: string): boolean => {
      if (options.fastPaths.length === 0 || !data.includes('"subscribe"')) return false;
      const ctx = connections.get(socket);
      if (!ctx?.acknowledged) return false;
      let message: SubscribeMessage;
      try {
        const parsed = parseMessage(data);
        if (parsed.type !== MessageType.Subscribe) return false;
        message = parsed;
      } catch {
        return false;
      }
      if (message.id in ctx.subscriptions) return false;
      let document: DocumentNode;
      try {
        document = parse(message.payload.query, { noLocation: true, maxTokens: DIRECT_MAX_TOKENS });
      } catch {
        return false;
      }
      let plan: DirectPlan | null = null;
      for (const fastPath of options.fastPaths)
        if ((plan = fastPath.plan(document, message.payload.operationName))) break;
      if (plan === null) return false;
      serveDirect(socket, ctx, message, plan).catch((err: unknown) => internalError(socket, err));
      return true;
    };

    const serveDirect = async (
      socket: WebSocket,
      ctx: ConnectionContext,
      message: SubscribeMessage,
      plan: DirectPlan,
    ) => {
      const { id, payload } = message;
      const operations = ctx.subscriptions as Operations;
      // As graphql-ws does: the id is taken while the operation is set up; a `complete` meanwhile frees it.
      operations[id] = null;
      const present = () => (ctx.subscriptions as Operations)[id] === null;
      try {
        const operation = new DirectOperation(socket, id, sockets.get(socket), plan, operations);
        const prepared = await prepare(ctx, payload, operation);
        if (Array.isArray(prepared)) {
          const errors = prepared as readonly GraphQLError[];
          if (present()) send(socket, { id, type: MessageType.Error, payload: errors.map((e) => e.toJSON()) });
          return;
        }
        const args = prepared as ExecutionArgs;
        const result = await (args.rootValue as OperationRoot).subscribe(args);
        const stream = operation.stream;
        if (stream === null) {
          // Refused (a limit, a scope, the resolver's checks): one result, as graphql-ws sends it.
          if (present()) {
            send(socket, { id, type: MessageType.Next, payload: nextPayload(result as ExecutionResult) });
            send(socket, { id, type: MessageType.Complete });
          }
          return;
        }
        if (!present()) {
          await stream.return();
          return;
        }
        // The envelop iterator around the stream only maps results, and a direct stream's
        // results are its own (its last one is masked below): it is not kept.
        operations[id] = stream;
        stream.start();
      } finally {
        if (present()) delete (ctx.subscriptions as Operations)[id];
      }
    };

    /** One connection's end of the protocol: graphql-ws' socket interface, on prototype methods. */
    class Connection implements GraphQLWsSocket {
      readonly protocol: string;
      private receive: ((data: string) => Promise<void>) | null = null;
      /** graphql-ws' end of the connection, once it is opened. */
      closed: ((code?: number, reason?: string) => Promise<void>) | null = null;

      constructor(readonly socket: WebSocket) {
        this.protocol = socket.protocol;
      }

      send(data: string): Promise<void> {
        return new Promise((resolve, reject) => {
          if (this.socket.readyState !== this.socket.OPEN) return resolve();
          this.socket.send(data, (err) => (err ? reject(err) : resolve()));
        });
      }

      close(code?: number, reason?: string): void {
        this.socket.close(code, reason);
      }

      onMessage(cb: (data: string) => Promise<void>): void {
        this.receive = cb;
      }

      /** A message from the client: a fast path's subscription, or graphql-ws'. */
      message(data: string): void {
        if (claim(this.socket, data)) return;
        this.receive?.(data).catch((err: unknown) => internalError(this.socket, err));
      }
    }

    // Keep-alive: sockets that answered since the last round are pinged again, the others dropped.
    const keepAliveMs = options.keepAliveMs ?? 12_000;
    const unanswered = new WeakSet<WebSocket>();
    function answered(this: WebSocket) {
      unanswered.delete(this);
    }
    const pinger = setInterval(() => {
      for (const socket of wss.clients) {
        if (socket.readyState !== socket.OPEN) continue;
        if (unanswered.has(socket)) {
          socket.terminate();
          continue;
        }
        unanswered.add(socket);
        socket.ping();
      }
    }, keepAliveMs);
    pinger.unref();

    // The socket listeners are shared by every socket (`this` is the socket), so that an idle
    // connection holds no closure of its own; `on`, not `once`: once() would add a wrapper per socket.
    const connectionOf = new WeakMap<WebSocket, Connection>();
    // A bad frame, an oversized message, a reset: the client's doing, and ws closes the socket
    // itself (1002, 1009, …).
    function socketError(err: Error) {
      app.log.debug({ code: (err as NodeJS.ErrnoException).code }, 'graphql-ws: socket error');
    }
    function socketMessage(this: WebSocket, data: unknown) {
      connectionOf.get(this)?.message(String(data));
    }
    function socketClose(this: WebSocket, code: number, reason: Buffer) {
      connections.delete(this);
      const closed = connectionOf.get(this)?.closed;
      connectionOf.delete(this);
      closed?.(code, String(reason)).catch((err: unknown) => app.log.error({ err }, 'graphql-ws: close failed'));
    }
    wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
      socket.on('error', socketError);
      socket.on('pong', answered);
      const connection = new Connection(socket);
      connectionOf.set(socket, connection);
      connection.closed = server.opened(connection, { socket, request });
      socket.on('message', socketMessage);
      socket.on('close', socketClose);
    });

    let stopped: Promise<void> | undefined;
    const ws: GraphQLWebSocket = {
      get clients() {
        return wss.clients.size;
      },
      close() {
        stopped ??= new Promise<void>((resolve) => {
          closing = true;
          app.server.off('upgrade', onUpgrade);
          clearInterval(pinger);
          for (const client of wss.clients) client.close(1001, 'Going away');
          wss.close(() => resolve());
        });
        return stopped;
      },
    };
    app.decorate('graphqlWebSocket', ws);
    app.addHook('preClose', () => ws.close());
  },
  { name: 'graphql-ws', dependencies: ['graphql'] },
);
