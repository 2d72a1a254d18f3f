import type { FastifyInstance } from 'fastify';
import { clientSideOnly, evaluate, evaluateAll } from '../../evaluation/index.js';
import { sendError } from '../../http/envelope.js';
import type { Snapshot } from '../../realtime/snapshots.js';
import type { SdkMetrics } from '../metrics/recorder.js';
import { registerSdkPreflight, sdkAuth } from './auth.js';
import { etagMatches, fromSnapshot, type SdkDeps } from './common.js';
import { bodyContext, queryContext } from './context.js';
import type { LaneRoute } from './lane.js';
import { registerOfrepRoutes } from './ofrep.js';
import { evaluationResponse, flagsResponse, restEvaluation, restFlags } from './present.js';
import { BulkBody, ClientQuery, EvaluateBody, TrackBody } from './schemas.js';
import { type TrackEventInput, trackedRows } from './track.js';

/**
 * The SDK doors: SDK-key auth from memory, per-client rate limits, `Cache-Control: no-store`,
 * and no database on the request path (key cache + snapshot + pure engine; counts and events
 * are flushed in batches by SdkMetrics). Tiny evaluation answers are not compressed: the gzip
 * stream costs more than the bytes it saves, and SDK clients rarely ask for it.
 *
 * Who sees which flags: server keys every flag everywhere. Mobile keys every flag on
 * /v1/evaluate* and the datafile, only client-side-available flags on /v1/client (the
 * browser/mobile door). Client-side IDs are refused on /v1/evaluate* and the datafile (public
 * values must not read server-only flags or their rules) and see client-side flags elsewhere.
 */
export function registerSdkRoutes(app: FastifyInstance, deps: SdkDeps): readonly LaneRoute[] {
  const { evaluationLimit, metrics } = deps;
  // SDK doors check what they read themselves, answering in their own protocol's shape.
  const noStore = { cacheControl: 'no-store', checksOwnInput: true };
  app.decorateRequest('sdkKey', null);
  registerSdkPreflight(app, ['/v1/client/:envKey/flags', '/v1/track']);

  const serverOrMobile = sdkAuth(deps.access, evaluationLimit, { kinds: ['server', 'mobile'] });
  // SDK requests and answers are small: no gzip either way.
  const sdk = { config: noStore, compress: false, decompress: false } as const;

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
      },
      fromSnapshot(deps.snapshots, (req, _reply, snapshot) => route.answer(req.body, snapshot)),
    );
  }

  app.get(
    '/v1/client/:envKey/flags',
    {
      // Browsers and phones on slow networks do benefit from gzip here.
      config: noStore,
      schema: { querystring: ClientQuery, response: { 200: flagsResponse } },
      preHandler: sdkAuth(deps.access, evaluationLimit, { kinds: ['client', 'mobile', 'server'], pathParam: 'envKey' }),
    },
    fromSnapshot(deps.snapshots, (req, _reply, snapshot) => {
      const context = queryContext(req.query as { context?: string; key?: string });
      const results = evaluateAll(
        snapshot.compiled,
        context,
        req.sdkKey!.kind === 'server' ? undefined : clientSideOnly,
      );
      metrics.evaluations.record(snapshot.environmentId, results);
      return { flags: restFlags(results), version: snapshot.version };
    }),
  );

  // Local-evaluating SDKs download the environment and poll with If-None-Match. The datafile
  // can be large, so it keeps gzip; its JSON is serialized once per snapshot.
  const datafiles = new WeakMap<Snapshot, string>();
  app.get(
    '/v1/datafile',
    { config: noStore, preHandler: serverOrMobile },
    fromSnapshot(deps.snapshots, (req, reply, snapshot) => {
      reply.header('etag', snapshot.etag);
      if (etagMatches(req.headers['if-none-match'], snapshot.etag)) return reply.code(304).send();
      let json = datafiles.get(snapshot);
      if (json === undefined) {
        json = JSON.stringify(snapshot.data);
        datafiles.set(snapshot, json);
      }
      return reply.header('content-type', 'application/json; charset=utf-8').send(json);
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
  return hot;
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
        return restEvaluation(result, true);
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
        const results = body.flag_keys
          ? [...new Set(body.flag_keys)].map((key) => evaluate(snapshot.compiled, key, context))
          : evaluateAll(snapshot.compiled, context);
        metrics.evaluations.record(snapshot.environmentId, results);
        return { flags: restFlags(results), version: snapshot.version };
      },
    },
  ] satisfies LaneRoute[];
}
