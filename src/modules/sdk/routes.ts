import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asOneBulk, clientSideOnly, evaluate, evaluateAll } from '../../evaluation/index.js';
import { sendError } from '../../http/envelope.js';
import type { Snapshot } from '../../realtime/snapshots.js';
import type { SdkMetrics } from '../metrics/recorder.js';
import { registerSdkPreflight, sdkAuth } from './auth.js';
import { bulkEvaluation, restAnswer } from './bulk.js';
import { etagMatches, fromSnapshot, type SdkDeps, unencodedBodiesOnly } from './common.js';
import { bodyContext, queryContext } from './context.js';
import { acceptsGzip, type CompressedBodies, compressedReply, GZIP_THRESHOLD, varyOnEncoding } from './gzip.js';
import { type LaneRoute, RawJson } from './lane.js';
import { ofrepLaneRoutes, registerOfrepRoutes } from './ofrep.js';
import type { OfrepStreams } from './ofrep-stream.js';
import { evaluationResponse, flagsResponse, restEvaluationJson, restFlags, restFlagsJson } from './present.js';
import { BulkBody, ClientQuery, EvaluateBody, TrackBody } from './schemas.js';
import { type TrackEventInput, trackedRows } from './track.js';

/**
 * The SDK doors: SDK-key auth from memory, per-client rate limits, `Cache-Control: no-store`,
 * and no database on the request path (key cache + snapshot + pure engine; counts and events
 * are flushed in batches by SdkMetrics). Answers above gzip.ts's threshold are gzipped when the
 * client accepts it, the same way on fastify and on the fast lane; tiny ones are not (the gzip
 * stream costs more than the bytes it saves).
 *
 * Who sees which flags: server keys every flag everywhere. Mobile keys every flag on
 * /v1/evaluate* and the datafile, only client-side-available flags on /v1/client (the
 * browser/mobile door). Client-side IDs are refused on /v1/evaluate* and the datafile (public
 * values must not read server-only flags or their rules) and see client-side flags elsewhere.
 */
/** gzip for a route whose body is serialized by fastify: the same rule as the lane's (gzip.ts). */
async function gzipLarge(req: FastifyRequest, reply: FastifyReply, payload: unknown) {
  if (reply.statusCode !== 200) return payload;
  varyOnEncoding(reply);
  if (typeof payload !== 'string' || payload.length <= GZIP_THRESHOLD || !acceptsGzip(req.headers['accept-encoding']))
    return payload;
  const encoded = compressedReply(null, '', req.headers['accept-encoding'], () => payload);
  reply.header('content-encoding', 'gzip');
  reply.removeHeader('content-length');
  return encoded.payload;
}

export function registerSdkRoutes(
  app: FastifyInstance,
  deps: SdkDeps & { streams: OfrepStreams; compressed: CompressedBodies },
): readonly LaneRoute[] {
  const { evaluationLimit, metrics } = deps;
  // SDK doors check what they read themselves, answering in their own protocol's shape.
  const noStore = { cacheControl: 'no-store', checksOwnInput: true };
  app.decorateRequest('sdkKey', null);
  registerSdkPreflight(app, ['/v1/client/:envKey/flags', '/v1/track']);

  const serverOrMobile = sdkAuth(deps.access, evaluationLimit, { kinds: ['server', 'mobile'] });
  // Request bodies are small: never inflated. Answers: gzip.ts, not @fastify/compress.
  const sdk = { config: noStore, compress: false, decompress: false, preParsing: unencodedBodiesOnly } as const;

  // The two hot routes are defined once; fastify serves them, and so does the fast lane
  // (lane.ts) for the requests it takes.
  const hot = hotRoutes(metrics);
  for (const route of hot) {
    app.post(
      route.url,
      {
        ...sdk,
        schema: { body: route.bodySchema, response: { 200: route.responseSchema } },
        preHandler: serverOrMobile,
        onSend: gzipLarge,
      },
      fromSnapshot(deps.snapshots, (req, reply, snapshot) => {
        const answer = route.answer(req.body, snapshot);
        return answer instanceof RawJson ? reply.type('application/json; charset=utf-8').send(answer.json) : answer;
      }),
    );
  }

  // Browsers and phones poll with one context: the answer for a snapshot version, a visibility
  // and a context is kept serialized and gzipped (gzip.ts), so repeats cost an evaluation only.
  app.get(
    '/v1/client/:envKey/flags',
    {
      config: noStore,
      compress: false,
      schema: { querystring: ClientQuery, response: { 200: flagsResponse } },
      preHandler: sdkAuth(deps.access, evaluationLimit, { kinds: ['client', 'mobile', 'server'], pathParam: 'envKey' }),
    },
    fromSnapshot(deps.snapshots, (req, reply, snapshot) => {
      const context = queryContext(req.query as { context?: string; key?: string });
      const all = req.sdkKey!.kind === 'server';
      const results = evaluateAll(snapshot.compiled, context, all ? undefined : clientSideOnly);
      metrics.evaluations.record(snapshot.environmentId, results);
      const contextHash = createHash('sha256').update(JSON.stringify(context)).digest('base64url').slice(0, 22);
      const encoded = compressedReply(
        deps.compressed,
        `client:${snapshot.etag}:${all ? 'a' : 'c'}:${contextHash}`,
        req.headers['accept-encoding'],
        () => JSON.stringify({ flags: restFlags(results), version: snapshot.version }),
      );
      return sendEncoded(reply, encoded);
    }),
  );

  // Local-evaluating SDKs download the environment and poll with If-None-Match. Its JSON (and
  // gzip) is made once per snapshot.
  app.get(
    '/v1/datafile',
    { config: noStore, compress: false, preHandler: serverOrMobile },
    fromSnapshot(deps.snapshots, (req, reply, snapshot) => {
      reply.header('etag', snapshot.etag);
      if (etagMatches(req.headers['if-none-match'], snapshot.etag)) return reply.code(304).send();
      const encoded = compressedReply(
        deps.compressed,
        `datafile:${snapshot.etag}`,
        req.headers['accept-encoding'],
        () => JSON.stringify(snapshot.data),
      );
      return sendEncoded(reply, encoded);
    }),
  );

  app.post(
    '/v1/track',
    {
      ...sdk,
      schema: { body: TrackBody },
      preHandler: sdkAuth(deps.access, evaluationLimit, { kinds: ['server', 'mobile', 'client'] }),
    },
    async (req, reply) => {
      const { events } = req.body as { events: TrackEventInput[] };
      const rows = trackedRows(req.sdkKey!.environmentId, events, deps.clock.now());
      if (!metrics.events.add(rows)) {
        reply.header('retry-after', '10');
        return sendError(reply, 503, 'event buffer is full; retry later');
      }
      if (metrics.events.size >= EARLY_FLUSH_EVENTS)
        metrics.flushSoon((err) => req.log.warn(`event flush failed: ${err.message}`));
      return reply.code(202).send({ accepted: rows.length });
    },
  );

  registerOfrepRoutes(app, deps);
  return [...hot, ...ofrepLaneRoutes(deps)];
}

function sendEncoded(reply: FastifyReply, encoded: { payload: string | Buffer; encoding?: 'gzip' }) {
  varyOnEncoding(reply).header('content-type', 'application/json; charset=utf-8');
  if (encoded.encoding) reply.header('content-encoding', encoded.encoding);
  return reply.send(encoded.payload);
}

const EARLY_FLUSH_EVENTS = 10_000;

/** `POST /v1/evaluate` and `POST /v1/evaluate/bulk`: server and mobile keys. */
function hotRoutes(metrics: SdkMetrics) {
  const kinds = ['server', 'mobile'] as const;
  return [
    {
      url: '/v1/evaluate',
      kinds,
      bodySchema: EvaluateBody,
      responseSchema: evaluationResponse,
      answer(input: unknown, snapshot: Snapshot) {
        const body = input as { flag_key: string; context?: unknown };
        const result = evaluate(snapshot.compiled, body.flag_key, bodyContext(body.context));
        metrics.evaluations.recordOne(snapshot.environmentId, result);
        return new RawJson(restEvaluationJson(result));
      },
    },
    {
      url: '/v1/evaluate/bulk',
      kinds,
      bodySchema: BulkBody,
      responseSchema: flagsResponse,
      answer(input: unknown, snapshot: Snapshot) {
        const body = input as { flag_keys?: string[]; context?: unknown };
        const context = bodyContext(body.context);
        if (body.flag_keys) {
          const keys = [...new Set(body.flag_keys)];
          const results = asOneBulk(() => keys.map((key) => evaluate(snapshot.compiled, key, context)));
          metrics.evaluations.record(snapshot.environmentId, results);
          return new RawJson(restFlagsJson(results, snapshot.version));
        }
        // Every flag: the same memo as OFREP bulk (an SDK polls with one context), answer kept with it.
        const evaluated = bulkEvaluation(snapshot, context, false);
        metrics.evaluations.record(snapshot.environmentId, evaluated.results);
        return new RawJson(restAnswer(evaluated, () => restFlagsJson(evaluated.results, snapshot.version)));
      },
    },
  ] satisfies LaneRoute[];
}
