import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Principal } from '../auth/principal.js';
import { resolvePrincipal, type CredentialHeaders } from '../auth/resolve.js';
import type { Clock } from '../clock.js';
import type { Orm } from '../db/orm.js';
import { DomainError, ForbiddenError } from '../errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { ServerContext } from '../graphql/yoga.js';
import type { SessionSettings } from '../modules/accounts/service.js';
import { originAllowed, resolveSdkKey, type LiveServices } from './subscriptions.js';

/**
 * GraphQL over WebSocket (`graphql-transport-ws`, the graphql-ws protocol) on /graphql of the
 * same HTTP server, executed by yoga's envelop so plugins, masking and the schema are shared
 * with the HTTP door. Credentials travel in `connection_init`:
 *   {"authorization": "Bearer <access JWT | vx_pat_… | vx_sat_…>"} and/or {"x-api-key": "vx_…"}.
 * A credential that does not check out closes the socket with 4401 (unknown, expired) or 4403
 * (deactivated token, origin not allowed for a client-side ID).
 */

interface ConnectionAuth {
  credentials: CredentialHeaders;
  sdkKey: string | null;
  origin: string | null;
}

const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);

export interface WebSocketDeps {
  yoga: YogaServerInstance<ServerContext, GraphQLContext>;
  orm: Orm;
  settings: SessionSettings;
  clock: Clock;
  refreshKeys(environmentId: string): Promise<void>;
  live: LiveServices;
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

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (pathname !== path || closing) {
      socket.end(`HTTP/1.1 ${closing ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  app.server.on('upgrade', onUpgrade);

  const server = useServer<Record<string, unknown> | undefined, { auth?: ConnectionAuth }>(
    {
      execute: (args: ExecutionArgs) => (args.rootValue as { execute(a: ExecutionArgs): unknown }).execute(args) as never,
      subscribe: (args: ExecutionArgs) => (args.rootValue as { subscribe(a: ExecutionArgs): unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const credentials: CredentialHeaders = { authorization: text(params['authorization'] ?? params['Authorization']), 'api-key': text(params['api-key']) };
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
      onSubscribe: async (ctx, _id, payload) => {
        const auth = ctx.extra.auth!;
        const em = deps.orm.em.fork();
        let principal: Principal;
        try {
          // Read again per operation: a long-lived socket does not keep a role it lost.
          principal = await resolvePrincipal(em, auth.credentials, deps.settings.jwtSecret);
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          return [new GraphQLError(e.message, { extensions: { code: e.code } })];
        }
        const graphQLContext: GraphQLContext = {
          em,
          principal,
          settings: deps.settings,
          clock: deps.clock,
          refreshKeys: deps.refreshKeys,
          requestId: randomUUID(),
          live: { ...deps.live, ...auth },
        };
        const { schema, execute, subscribe, contextFactory, parse, validate } = deps.yoga.getEnveloped({ ctx: graphQLContext });
        let document;
        try {
          document = parse(payload.query);
        } catch (e) {
          return [e instanceof GraphQLError ? e : new GraphQLError('could not parse the query')];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
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
