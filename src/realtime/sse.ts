import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { clientSideOnly, type EvaluationContext, type EvaluationResult, evaluateAll } from '../evaluation/index.js';
import type { RateLimit } from '../http/rate-limit.js';
import { registerSdkPreflight, sdkAuth } from '../http/sdk-auth.js';
import type { CachedSdkKey, SdkKeyCache } from '../modules/keys/cache.js';
import { queryContext } from '../modules/sdk/context.js';
import type { LiveHub, LiveUpdate } from './pubsub.js';
import type { Snapshot, SnapshotStore } from './snapshots.js';
import { watchSdkKey } from './subscriptions.js';

/**
 * The SSE bridge, `GET /v1/stream/:envKey` (ARCHITECTURE.md, step 4). Every event's `id:` is the
 * environment version. Two modes:
 *
 * - configuration (no context given): what a local-evaluating SDK needs.
 *   put    {version, flags: {<key>: {definition, state}}, segments}
 *   patch  {key, version, definition, state}          one flag changed
 *   delete {key, version}                             flag archived, deleted, or no longer client-side
 *   A segment change, or a resync after a lost LISTEN connection, sends a fresh `put`.
 * - evaluated (`?context=<base64url JSON>` or `?key=<context key>`): values for that context only.
 *   put    {version, flags: {<key>: {value, variation, reason}}}
 *   patch  {key, version, value, variation, reason}   only when this context's value changed
 *   delete {key, version}
 *
 * Who sees what follows the SDK routes: configuration mode is the live datafile (server and mobile
 * keys, every flag; a client-side ID is refused, since public code must not read server-only flags
 * or anyone's targeting rules); evaluated mode is the live `/v1/client/:envKey/flags` (a server
 * key sees every flag; mobile keys and client-side IDs only client-side flags). A reconnect
 * with `Last-Event-ID` older than the current version gets a `put` first; an up-to-date one gets
 * nothing replayed. `: ping` comments keep proxies from timing the stream out.
 */

export interface SseDeps {
  hub: LiveHub;
  keyCache: SdkKeyCache;
  snapshots: SnapshotStore;
  evaluationLimit: RateLimit;
  /** Comment interval; proxies commonly drop connections idle for 30 s or more. */
  heartbeatMs?: number;
  /** Reconnection delay suggested to clients when the server shuts down. */
  retryMs?: number;
}

export interface SseBridge {
  readonly streams: number;
}

/** Ends a stream whose client stopped reading (it reconnects and gets a `put`). */
const MAX_BUFFERED = 1024 * 1024;

type Wire = (version: number, event: string, data: unknown) => string;
const frame: Wire = (version, event, data) => `id: ${version}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

interface Stream {
  write(chunk: string | Wired): void;
  end(final?: string): void;
}

const CRLF = Buffer.from('\r\n');

/**
 * SSE text encoded once and written, as is, to every stream that sends it: with 10,000 streams
 * a change costs 10,000 socket writes, so each one is a single pre-built buffer (HTTP/1.1
 * chunk framing included) instead of a string encoded, framed and corked per stream.
 */
class Wired {
  private chunked: Buffer | undefined;
  private plain: Buffer | undefined;

  constructor(readonly text: string) {}

  bytes(chunked: boolean): Buffer {
    if (!chunked) return (this.plain ??= Buffer.from(this.text, 'utf8'));
    if (this.chunked === undefined) {
      const body = Buffer.from(this.text, 'utf8');
      this.chunked = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`, 'latin1'), body, CRLF]);
    }
    return this.chunked;
  }
}

const PING = new Wired(': ping\n\n');

/** Configuration-mode encodings, memoized per snapshot and per update: once, not once per stream. */
const puts = new WeakMap<Snapshot, Wired>();

function configPut(snapshot: Snapshot): Wired {
  let known = puts.get(snapshot);
  if (known) return known;
  known = new Wired(
    frame(snapshot.version, 'put', {
      version: snapshot.version,
      flags: Object.fromEntries(
        snapshot.data.flags.map((f) => [f.definition.key, { definition: f.definition, state: f.state }]),
      ),
      segments: snapshot.data.segments,
    }),
  );
  puts.set(snapshot, known);
  return known;
}

function configChanges(update: LiveUpdate): Wired {
  const known = update.memo.get('sse:changes') as Wired | undefined;
  if (known !== undefined) return known;
  const current = update.current!;
  let out: Wired | string = '';
  if (!update.change || update.segmentsChanged) {
    out = configPut(current);
  } else {
    const before = new Set((update.previous?.data.flags ?? []).map((f) => f.definition.key));
    for (const delta of update.flags) {
      if (!delta.config && !before.has(delta.key)) continue;
      out += delta.config
        ? frame(current.version, 'patch', {
            key: delta.key,
            version: current.version,
            definition: delta.config.definition,
            state: delta.config.state,
          })
        : frame(current.version, 'delete', { key: delta.key, version: current.version });
    }
  }
  const wired = typeof out === 'string' ? new Wired(out) : out;
  update.memo.set('sse:changes', wired);
  return wired;
}

const resultValue = (r: EvaluationResult) => ({
  value: r.value,
  variation: r.variation,
  reason: r.reason,
  ...(r.errorCode ? { errorCode: r.errorCode } : {}),
});

function sameResult(a: EvaluationResult | undefined, b: EvaluationResult): boolean {
  if (!a) return false;
  if (a === b) return true;
  return (
    a.variation === b.variation &&
    a.reason === b.reason &&
    a.errorCode === b.errorCode &&
    JSON.stringify(a.value) === JSON.stringify(b.value)
  );
}

/** Evaluated mode when the request names a context (`?context=` base64url JSON, or `?key=`). */
function contextOf(query: Record<string, unknown>): EvaluationContext | null {
  const q = query as { context?: string; key?: string };
  return q.context === undefined && q.key === undefined ? null : queryContext(q);
}

function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function registerSseRoutes(app: FastifyInstance, deps: SseDeps): SseBridge {
  const heartbeatMs = deps.heartbeatMs ?? 25_000;
  const retryMs = deps.retryMs ?? 1_000;
  const open = new Set<Stream>();
  // One timer for every stream: an idle subscriber costs its socket and a few closures.
  const heartbeat = setInterval(() => {
    for (const stream of open) stream.write(PING);
  }, heartbeatMs);
  heartbeat.unref();
  app.addHook('onClose', async () => clearInterval(heartbeat));

  const path = '/v1/stream/:envKey';
  registerSdkPreflight(app, [path]);
  app.get(path, {
    preHandler: sdkAuth(deps.keyCache, deps.evaluationLimit, {
      kinds: ['client', 'mobile', 'server'],
      pathParam: 'envKey',
    }),
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const key = req.sdkKey!;
      const context = contextOf(req.query as Record<string, unknown>);
      if (!context && key.kind === 'client') {
        throw new ForbiddenError(
          'a client-side ID streams evaluated values only: give ?key=<context key> or ?context=<base64url JSON>',
        );
      }
      const snapshot = deps.snapshots.get(key.environmentId);
      if (!snapshot) throw new NotFoundError('environment');
      if (deps.hub.isClosing) {
        return reply
          .status(503)
          .header('retry-after', '1')
          .send({ error: 'the server is shutting down', request_id: req.id });
      }
      openStream(req, reply, key, snapshot, context);
    },
  });

  function openStream(
    req: FastifyRequest,
    reply: FastifyReply,
    key: CachedSdkKey,
    snapshot: Snapshot,
    context: EvaluationContext | null,
  ) {
    const filter = key.kind === 'server' ? undefined : clientSideOnly;
    const presented = header(req, 'x-api-key') ?? (req.params as { envKey: string }).envKey;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.socket?.setNoDelay(true);
    res.socket?.setKeepAlive(true, 60_000);
    // The head goes out now; from here on every event is written straight to the socket, framed
    // as this response's body (chunked for HTTP/1.1, as is for HTTP/1.0), behind the head.
    res.flushHeaders();
    const chunked = res.chunkedEncoding;
    const socket = req.method === 'GET' ? res.socket : null;

    let closed = false;
    const cleanups: (() => void)[] = [];
    const stream: Stream = {
      write(chunk) {
        if (closed) return;
        const wired = typeof chunk === 'string' ? (chunk.length === 0 ? null : new Wired(chunk)) : chunk;
        if (wired === null || socket === null || socket.destroyed) return;
        socket.write(wired.bytes(chunked));
        if (socket.writableLength > MAX_BUFFERED) res.destroy();
      },
      end(final) {
        if (closed) return;
        if (final) res.write(final);
        res.end();
        close();
      },
    };
    const close = () => {
      if (closed) return;
      closed = true;
      open.delete(stream);
      for (const cleanup of cleanups.splice(0)) cleanup();
    };
    res.on('close', close);

    // Evaluated mode remembers what this context was last told; configuration mode needs nothing.
    let values = context ? new Map(evaluateAll(snapshot.compiled, context, filter).map((r) => [r.key, r])) : null;
    const lastEventId = Number(header(req, 'last-event-id') ?? Number.NaN);
    const upToDate = Number.isInteger(lastEventId) && lastEventId >= snapshot.version;
    if (!upToDate) {
      stream.write(
        values
          ? frame(snapshot.version, 'put', {
              version: snapshot.version,
              flags: Object.fromEntries([...values].map(([k, r]) => [k, resultValue(r)])),
            })
          : configPut(snapshot),
      );
    }

    const watch = watchSdkKey(deps.keyCache, presented, key, () => stream.end(': the API key is no longer valid\n\n'));
    cleanups.push(watch.stop);
    cleanups.push(
      deps.hub.onEnvironment(key.environmentId, (event) => {
        if (event.type === 'keys') return watch.recheck();
        const { update } = event;
        const current = update.current;
        if (!current) return stream.end(': the environment was deleted\n\n');
        if (!watch.stillValid()) return;
        if (!values) return stream.write(configChanges(update));
        const next = evaluateAll(current.compiled, context, filter);
        const seen = new Set<string>();
        let out = '';
        for (const result of next) {
          seen.add(result.key);
          if (!sameResult(values.get(result.key), result))
            out += frame(current.version, 'patch', {
              key: result.key,
              version: current.version,
              ...resultValue(result),
            });
        }
        for (const key of values.keys())
          if (!seen.has(key)) out += frame(current.version, 'delete', { key, version: current.version });
        values = new Map(next.map((r) => [r.key, r]));
        stream.write(out);
      }),
    );
    cleanups.push(deps.hub.track(() => stream.end(`retry: ${retryMs}\n: the server is shutting down; reconnect\n\n`)));
    open.add(stream);
  }

  return {
    get streams() {
      return open.size;
    },
  };
}
