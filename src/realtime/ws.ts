import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
  Kind,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Principal } from '../auth/principal.js';
import { type CredentialHeaders, resolvePrincipal } from '../auth/resolve.js';
import type { Clock } from '../clock.js';
import type { Orm } from '../db/orm.js';
import { DomainError, ForbiddenError } from '../errors.js';
import type { EvaluationResult } from '../evaluation/index.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { ServerContext } from '../graphql/yoga.js';
import type { SessionSettings } from '../modules/accounts/service.js';
import {
  type FlagValuesQueue,
  type LiveRequest,
  type LiveServices,
  originAllowed,
  resolveSdkKey,
} from './subscriptions.js';
import { refuseUpgrade, type UpgradeRules, upgradeGate } from './upgrade.js';

/**
 * GraphQL over WebSocket (`graphql-transport-ws`, the graphql-ws protocol) on /graphql of the
 * same HTTP server, executed by yoga's envelop so plugins, masking and the schema are shared
 * with the HTTP door. Credentials travel in `connection_init`:
 *   {"authorization": "Bearer <access JWT | vx_pat_… | vx_sat_…>"} and/or {"x-api-key": "vx_…"}.
 * A credential that does not check out closes the socket with 4401 (unknown, expired) or 4403
 * (deactivated token, origin not allowed for a client-side ID).
 * Before that, the upgrade itself obeys REQUIRE_HTTPS and a per-IP rate limit (upgrade.ts).
 */

interface ConnectionAuth {
  credentials: CredentialHeaders;
  sdkKey: string | null;
  origin: string | null;
}

const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);

// ---------------------------------------------------------------------------------------------
// flagValues without per-event execution
//
// A `flagValues` subscription selecting only scalar fields of FlagValue (aliases allowed; no
// fragments, no directives) gets its events projected straight into the result graphql-js would
// build: same keys, same order, same values. Subscribing still goes through yoga's envelop (auth,
// validation, the resolver's checks, error masking); only the per-event `execute` is skipped.
// An event that ends the stream (a key revoked) is executed by envelop as usual: the same error.

type FlagValueField = 'key' | 'value' | 'variation' | 'reason' | 'errorCode' | '__typename';
const FLAG_VALUE_FIELDS = new Set<string>(['key', 'value', 'variation', 'reason', 'errorCode', '__typename']);

/** Builds `{data: {<alias>: [...]}}` from evaluated values; one per distinct selection. */
class FlagValuesProjector {
  /** Results by value list: subscribers that share an evaluation share the projected result. */
  private readonly done = new WeakMap<readonly EvaluationResult[], ExecutionResult>();

  constructor(
    private readonly responseKey: string,
    private readonly fields: readonly (readonly [string, FlagValueField])[],
  ) {}

  private readonly encoded = new WeakMap<readonly EvaluationResult[], Map<string, Buffer>>();

  /**
   * The whole `next` message for `prefix` (which names the operation id) as bytes, once per
   * value list and id: subscribers with the same values share one buffer, and the socket
   * write takes it as is.
   */
  message(values: readonly EvaluationResult[], prefix: string): Buffer {
    let byPrefix = this.encoded.get(values);
    if (byPrefix === undefined) this.encoded.set(values, (byPrefix = new Map()));
    let known = byPrefix.get(prefix);
    if (known === undefined)
      byPrefix.set(prefix, (known = Buffer.from(`${prefix}${JSON.stringify(this.project(values))}}`, 'utf8')));
    return known;
  }

  project(values: readonly EvaluationResult[]): ExecutionResult {
    const known = this.done.get(values);
    if (known) return known;
    const list = new Array<Record<string, unknown>>(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const item: Record<string, unknown> = {};
      for (const [alias, field] of this.fields) {
        if (alias in item) continue;
        item[alias] =
          field === '__typename'
            ? 'FlagValue'
            : field === 'errorCode'
              ? (v.errorCode ?? null)
              : field === 'value'
                ? (v.value ?? null)
                : v[field];
      }
      list[i] = item;
    }
    const result: ExecutionResult = { data: { [this.responseKey]: list } };
    this.done.set(values, result);
    return result;
  }
}

const projectors = new Map<string, FlagValuesProjector>();

/** The projector for a document, or null when it needs the general path. */
export function flagValuesProjector(
  document: DocumentNode,
  operationName: string | null | undefined,
): FlagValuesProjector | null {
  if (document.definitions.length !== 1) return null;
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription' || operation.directives?.length) return null;
  const selections = operation.selectionSet.selections;
  if (selections.length !== 1) return null;
  const root = selections[0]!;
  if (root.kind !== Kind.FIELD || root.name.value !== 'flagValues' || root.directives?.length || !root.selectionSet)
    return null;
  const fields: [string, FlagValueField][] = [];
  for (const selection of root.selectionSet.selections) {
    if (
      selection.kind !== Kind.FIELD ||
      selection.directives?.length ||
      selection.arguments?.length ||
      selection.selectionSet
    )
      return null;
    if (!FLAG_VALUE_FIELDS.has(selection.name.value)) return null;
    fields.push([selection.alias?.value ?? selection.name.value, selection.name.value as FlagValueField]);
  }
  const responseKey = root.alias?.value ?? root.name.value;
  const signature = JSON.stringify([responseKey, fields]);
  let projector = projectors.get(signature);
  if (!projector) {
    if (projectors.size > 1_000) projectors.clear();
    projectors.set(signature, (projector = new FlagValuesProjector(responseKey, fields)));
  }
  return projector;
}

/** Where projected results can be sent without graphql-ws: the operation's socket and id. */
interface DirectSink {
  socket: WebSocket;
  id: string;
}

/** A socket this far behind is closed (its client reconnects and gets fresh values). */
const MAX_BUFFERED = 1024 * 1024;

/**
 * The subscription as graphql-ws iterates it: value lists are taken from the source queue and
 * projected; anything else (the stream's end for a revoked key) is left to envelop's iterator
 * over the same queue, which executes it exactly as the general path does.
 *
 * While graphql-ws waits on `next()` with nothing queued, later value lists are written to the
 * socket directly, as the same `next` message graphql-ws would send (its JSON built once per
 * shared evaluation): a send then costs one write instead of a chain of promises and a
 * serialization per subscriber. Order holds because direct sends happen only while graphql-ws
 * is idle on this operation, and anything else goes through the queue behind them.
 */
class ProjectedFlagValues implements AsyncIterableIterator<ExecutionResult> {
  private readonly prefix: string;

  constructor(
    private readonly source: FlagValuesQueue,
    private readonly projector: FlagValuesProjector,
    private readonly executed: AsyncIterator<ExecutionResult>,
    private readonly sink: DirectSink,
  ) {
    this.prefix = `{"id":${JSON.stringify(sink.id)},"type":"next","payload":`;
  }

  private readonly sendDirect = (item: unknown): boolean => {
    if (!Array.isArray(item)) return false;
    const { socket } = this.sink;
    if (socket.readyState !== socket.OPEN) return true;
    socket.send(this.projector.message(item, this.prefix), { binary: false });
    if (socket.bufferedAmount > MAX_BUFFERED) socket.close(CloseCode.InternalServerError, 'the client is not reading');
    return true;
  };

  async next(): Promise<IteratorResult<ExecutionResult>> {
    // graphql-ws sent the previous result and waits: later value lists may go out directly.
    this.source.divert = this.sendDirect;
    const head = await this.source.peek();
    this.source.divert = null;
    if (Array.isArray(head)) {
      this.source.take();
      return { done: false, value: this.projector.project(head) };
    }
    return this.executed.next();
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.source.divert = null;
    await Promise.all([this.source.return(), this.executed.return?.()]);
    return { done: true, value: undefined };
  }

  throw(): Promise<IteratorResult<ExecutionResult>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

interface OperationRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
  fast?: { projector: FlagValuesProjector; source: NonNullable<LiveRequest['flagValuesSource']>; sink: DirectSink };
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';

async function subscribeOperation(args: ExecutionArgs): Promise<unknown> {
  const root = args.rootValue as OperationRoot;
  const result = await root.subscribe(args);
  const queue = root.fast?.source.queue;
  if (!root.fast || !queue || !isAsyncIterable(result)) return result;
  const executed = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
  return new ProjectedFlagValues(queue, root.fast.projector, executed, root.fast.sink);
}

export interface WebSocketDeps {
  yoga: YogaServerInstance<ServerContext, GraphQLContext>;
  orm: Orm;
  settings: SessionSettings;
  clock: Clock;
  refreshKeys(environmentId: string): Promise<void>;
  live: LiveServices;
  /** REQUIRE_HTTPS, TRUST_PROXY and the per-IP limit, checked before an upgrade is accepted. */
  upgrade: UpgradeRules;
  path?: string;
}

export interface GraphQLWebSocket {
  /** Connected sockets. */
  readonly clients: number;
  /** Refuses new upgrades and closes every socket with 1001 (going away). */
  close(): Promise<void>;
}

export function attachGraphQLWebSocket(app: FastifyInstance, deps: WebSocketDeps): GraphQLWebSocket {
  const path = deps.path ?? '/graphql';
  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
  let closing = false;

  const admit = upgradeGate(deps.upgrade);
  // The 101 of an admitted upgrade carries its X-RateLimit-* headers, as any limited response does.
  const admitted = new WeakMap<IncomingMessage, Record<string, string>>();
  wss.on('headers', (headers, req) => {
    for (const [name, value] of Object.entries(admitted.get(req) ?? {})) headers.push(`${name}: ${value}`);
  });
  const shuttingDown = { status: 503, message: 'the server is shutting down' };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (closing) return refuseUpgrade(req, socket, shuttingDown);
    if (pathname !== path)
      return refuseUpgrade(req, socket, { status: 404, message: `route ${req.method} ${pathname} not found` });
    // Node removed its own socket listeners before emitting `upgrade`; until `ws` adds its
    // own, an error (the client gone while the limit is looked up) must not go unhandled.
    const lost = () => socket.destroy();
    socket.on('error', lost);
    admit(req).then(
      (verdict) => {
        socket.off('error', lost);
        if (socket.destroyed) return;
        if (verdict.refusal) return refuseUpgrade(req, socket, verdict.refusal);
        if (closing) return refuseUpgrade(req, socket, shuttingDown);
        admitted.set(req, verdict.headers);
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      },
      (err: Error) => {
        socket.off('error', lost);
        app.log.error({ err }, 'WebSocket upgrade check failed');
        refuseUpgrade(req, socket, { status: 500, message: 'internal server error' });
      },
    );
  };
  app.server.on('upgrade', onUpgrade);

  const server = useServer<Record<string, unknown> | undefined, { auth?: ConnectionAuth }>(
    {
      execute: (args: ExecutionArgs) =>
        (args.rootValue as { execute(a: ExecutionArgs): unknown }).execute(args) as never,
      subscribe: (args: ExecutionArgs) => subscribeOperation(args) as never,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const credentials: CredentialHeaders = {
          authorization: text(params['authorization'] ?? params['Authorization']),
          'api-key': text(params['api-key']),
        };
        const sdkKey = text(params['x-api-key'] ?? params['X-API-Key']) ?? null;
        const origin = text(ctx.extra.request.headers.origin) ?? null;
        try {
          await resolvePrincipal(deps.orm.em.fork(), credentials, deps.settings.jwtSecret);
          if (sdkKey) {
            const key = await resolveSdkKey(deps.live.keyCache, sdkKey);
            if (!key) {
              ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
              return false;
            }
            if (!originAllowed(key, origin)) throw new ForbiddenError('origin not allowed');
          }
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          // graphql-ws answers `false` with 4403; an unknown or expired credential is a 401.
          if (e.code === 'UNAUTHENTICATED') ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
          return false;
        }
        ctx.extra.auth = { credentials, sdkKey, origin };
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const auth = ctx.extra.auth!;
        const em = deps.orm.em.fork();
        let principal: Principal;
        try {
          // Read again per operation: a long-lived socket does not keep a role it lost. The
          // connection spent its SSO JWT (if any) in onConnect; this only checks it again.
          principal = await resolvePrincipal(em, auth.credentials, deps.settings.jwtSecret, { recheck: true });
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          return [new GraphQLError(e.message, { extensions: { code: e.code } })];
        }
        const live: LiveRequest = { ...deps.live, ...auth };
        const graphQLContext: GraphQLContext = {
          em,
          principal,
          settings: deps.settings,
          clock: deps.clock,
          refreshKeys: deps.refreshKeys,
          requestId: randomUUID(),
          live,
        };
        const { schema, execute, subscribe, contextFactory, parse, validate } = deps.yoga.getEnveloped({
          ctx: graphQLContext,
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
        const projector = flagValuesProjector(document, payload.operationName);
        if (projector) {
          live.flagValuesSource = {};
          root.fast = { projector, source: live.flagValuesSource, sink: { socket: ctx.extra.socket, id } };
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

  return {
    get clients() {
      return wss.clients.size;
    },
    async close() {
      closing = true;
      app.server.off('upgrade', onUpgrade);
      await Promise.resolve(server.dispose()).catch(() => undefined);
    },
  };
}
