import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NOT_JSON } from '../../common/json.js';
import { type EvaluationContext, evaluateFlag } from '../../evaluation/index.js';
import type { Snapshot, SnapshotStore } from '../../realtime/snapshots.js';
import type { CachedSdkKey } from '../keys/cache.js';
import type { SdkMetrics } from '../metrics/recorder.js';
import { registerSdkPreflight, sdkAuth } from './auth.js';
import { bulkEvaluation, contextHash } from './bulk.js';
import { ENVIRONMENT_UNAVAILABLE, etagMatches, fromSnapshot, type SdkDeps, unencodedBodiesOnly } from './common.js';
import { openFeatureContext } from './context.js';
import { type CompressedBodies, compressedReply, varyOnEncoding } from './gzip.js';
import { type LaneReply, type LaneRoute, NO_HEADERS } from './lane.js';
import type { OfrepStreams } from './ofrep-stream.js';
import { type OfrepFailure, ofrepJson, ofrepResult, ofrepStatus } from './present.js';
import { OfrepBody } from './schemas.js';

/**
 * The OpenFeature Remote Evaluation Protocol (open-feature/protocol, service/openapi.yaml):
 * `POST /ofrep/v1/evaluate/flags/{key}` and the bulk `POST /ofrep/v1/evaluate/flags` with
 * ETag / If-None-Match, and (ADR-0008) `eventStreams` in the bulk answer. Key in
 * `Authorization: Bearer` or `X-API-Key`. Failures use OFREP's bodies (`{key, errorCode,
 * errorDetails}`), not the REST envelope, except 401/403/413/415/429 for which the spec defines
 * no body. Visibility as on /v1/evaluate: client-side IDs see only client-side-available flags
 * (others are FLAG_NOT_FOUND), server and mobile keys see all.
 *
 * Both routes are answered by the same functions on fastify and on the fast lane (lane.ts).
 */
const SINGLE = '/ofrep/v1/evaluate/flags/:key';
const BULK = '/ofrep/v1/evaluate/flags';

type Failure = { errorCode: OfrepFailure['errorCode']; errorDetails: string };

interface ValidationIssue {
  instancePath: string;
  keyword: string;
  params: unknown;
  message?: string;
}

/** Request problems (bad JSON, unknown field, wrong type) as an OFREP failure. */
function requestFailure(error: { code?: string; problem?: string; validation?: ValidationIssue[] }): Failure | null {
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return { errorCode: 'PARSE_ERROR', errorDetails: error.problem ?? NOT_JSON };
  }
  const first = error.validation?.[0];
  if (!first) return null;
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (first.keyword === 'additionalProperties') {
    const field = String((first.params as { additionalProperty?: unknown }).additionalProperty);
    return { errorCode: 'PARSE_ERROR', errorDetails: `unknown field "${path ? `${path}.` : ''}${field}"` };
  }
  return {
    errorCode: path.startsWith('context') ? 'INVALID_CONTEXT' : 'PARSE_ERROR',
    errorDetails: `${path || 'body'} ${first.message ?? 'is invalid'}`,
  };
}

function contextOf(body: unknown): { context: EvaluationContext } | { failure: Failure } {
  const context = openFeatureContext((body as { context?: unknown } | undefined)?.context);
  return typeof context === 'string'
    ? { failure: { errorCode: 'INVALID_CONTEXT', errorDetails: context } }
    : { context };
}

const SINGLE_PREFIX = SINGLE.slice(0, -':key'.length);

/**
 * A flag path fastify cannot route (a key that is not valid percent-encoding, or longer than any
 * flag key) still gets OFREP's failure body, so an OpenFeature SDK reads why and serves its default.
 */
function unroutableKey(error: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  const path = req.url.split('?')[0] ?? '';
  if (req.method !== 'POST' || !path.startsWith(SINGLE_PREFIX)) return undefined;
  const key = path.slice(SINGLE_PREFIX.length);
  if (key.length === 0 || key.includes('/')) return undefined;
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return reply
      .code(404)
      .send({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails: 'flag keys are at most 100 characters' });
  }
  return reply
    .code(400)
    .send({ key, errorCode: 'PARSE_ERROR', errorDetails: 'the flag key in the path is not valid percent-encoding' });
}

const unavailable = { errorCode: 'GENERAL', errorDetails: ENVIRONMENT_UNAVAILABLE } as const;

/**
 * The version an SSE-triggered re-fetch names (ADR-0008 `flagConfigEtag`, also read as
 * `sseEtag`) when it is newer than this node's snapshot: the change reached the stream through
 * another node first. Such a request waits for this node to catch up rather than answer stale.
 * (`flagConfigLastModified` / `sseLastModified` add nothing the ETag does not say.)
 */
function aheadOf(query: URLSearchParams | Record<string, unknown>, snapshot: Snapshot): number | null {
  const get = (name: string) =>
    query instanceof URLSearchParams ? query.get(name) : (query as Record<string, unknown>)[name];
  const etag = get('flagConfigEtag') ?? get('sseEtag');
  if (typeof etag !== 'string') return null;
  const match = /^"([0-9a-f-]{36})\.(\d{1,15})"$/.exec(etag);
  if (!match || match[1] !== snapshot.environmentId) return null;
  const version = Number(match[2]);
  return version > snapshot.version ? version : null;
}

const CATCH_UP_MS = 2_000;

/** The environment's snapshot once it reaches `version` (or what it has after CATCH_UP_MS). */
function caughtUp(snapshots: SnapshotStore, environmentId: string, version: number): Promise<Snapshot | undefined> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      snapshots.off('updated', check);
      resolve(snapshots.get(environmentId));
    };
    const check = () => {
      const now = snapshots.get(environmentId);
      if (!now || now.version >= version) done();
    };
    const timer = setTimeout(done, CATCH_UP_MS);
    snapshots.on('updated', check);
    check();
  });
}

/** What an OFREP route answers: a status, a body (none for 304) and extra headers. */
interface OfrepAnswer {
  status: number;
  body?: unknown;
  /** The body as JSON, already serialized. */
  raw?: string;
  /** A body already serialized (and maybe compressed) for this request. */
  encoded?: { payload: string | Buffer; encoding?: 'gzip' };
  headers?: Record<string, string>;
}

export interface OfrepDeps {
  metrics: SdkMetrics;
  streams: OfrepStreams;
  compressed: CompressedBodies;
}

function evaluateOne(deps: OfrepDeps, key: CachedSdkKey, flagKey: string, body: unknown, snapshot: Snapshot) {
  const parsed = contextOf(body);
  if ('failure' in parsed) return { status: 400, body: { key: flagKey, ...parsed.failure } };
  const flag = snapshot.compiled.flags.get(flagKey);
  if (flag === undefined || (key.kind === 'client' && !flag.definition.clientSideAvailable)) {
    return {
      status: 404,
      body: { key: flagKey, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag "${flagKey}" not found` },
    };
  }
  const result = evaluateFlag(flag, parsed.context);
  deps.metrics.evaluations.recordOne(snapshot.environmentId, result);
  return { status: ofrepStatus(ofrepResult(result)), raw: ofrepJson(result) };
}

/**
 * The bulk answer. Its body depends on the environment version, on what the key may see and on
 * the context only, which its ETag names: so the serialized (and gzipped) body is kept per ETag,
 * and a static-context provider's re-fetches after each change cost one evaluation per node.
 */
function evaluateBulk(
  deps: OfrepDeps,
  key: CachedSdkKey,
  body: unknown,
  snapshot: Snapshot,
  ifNoneMatch: string | string[] | undefined,
  acceptEncoding: string | string[] | undefined,
): OfrepAnswer {
  const parsed = contextOf(body);
  if ('failure' in parsed) return { status: 400, body: parsed.failure };
  const clientSide = key.kind === 'client';
  const evaluated = bulkEvaluation(snapshot, parsed.context, clientSide);
  const window = deps.streams.window();
  const stream = deps.streams.descriptor(key);
  let made = evaluated.made;
  if (made === undefined || made.window !== window || made.requestUri !== stream.endpoint.requestUri) {
    // Version, visibility, context, and the window of the stream token the body carries.
    const etag = `${snapshot.etag.slice(0, -1)}.${clientSide ? 'c' : 'a'}.${contextHash(evaluated)}.${window}"`;
    // The stream's token differs per key (and time window), so the cached body is keyed by it too.
    const requestUri = stream.endpoint.requestUri;
    made = { window, requestUri, etag, cacheKey: `ofrep:${etag}:${requestUri}` };
    evaluated.made = made;
  }
  const { etag, cacheKey } = made;
  if (etagMatches(ifNoneMatch, etag)) return { status: 304, headers: { etag } };
  const { results } = evaluated;
  deps.metrics.evaluations.record(snapshot.environmentId, results);
  const encoded = compressedReply(deps.compressed, cacheKey, acceptEncoding, () => {
    let flags = '';
    for (let i = 0; i < results.length; i++) flags += i === 0 ? ofrepJson(results[i]!) : `,${ofrepJson(results[i]!)}`;
    return `{"flags":[${flags}],"eventStreams":[${JSON.stringify(stream)}]}`;
  });
  return { status: 200, encoded, headers: { etag } };
}

/** The two OFREP evaluations as the fast lane serves them (same answers as the fastify routes below). */
export function ofrepLaneRoutes(deps: OfrepDeps): LaneRoute[] {
  const kinds = ['server', 'mobile', 'client'] as const;
  const reply = (answer: OfrepAnswer): LaneReply => ({
    status: answer.status,
    payload: answer.encoded?.payload ?? answer.raw ?? (answer.body === undefined ? '' : JSON.stringify(answer.body)),
    headers: answer.encoded?.encoding
      ? { ...answer.headers, 'content-encoding': answer.encoded.encoding }
      : (answer.headers ?? NO_HEADERS),
    vary: answer.encoded !== undefined,
  });
  const failure = (param: string | undefined) => (error: { code: string } | { validation: ValidationIssue[] }) => {
    const found = requestFailure(error as { code?: string; validation?: ValidationIssue[] });
    if (!found) return undefined;
    return {
      status: 400,
      payload: JSON.stringify(param === undefined ? found : { key: param, ...found }),
      headers: {},
    };
  };
  return [
    {
      url: '/ofrep/v1/evaluate/flags/',
      prefix: true,
      bearer: true,
      kinds,
      bodySchema: OfrepBody,
      reply: (body, snapshot, request) => reply(evaluateOne(deps, request.key, request.param!, body, snapshot)),
      refusal: (error, request) => failure(request.param)(error),
      unavailable: (request) => ({
        status: 500,
        payload: JSON.stringify({ key: request.param, ...unavailable }),
        headers: {},
      }),
    },
    {
      url: BULK,
      query: true,
      bearer: true,
      kinds,
      bodySchema: OfrepBody,
      accepts: (query, snapshot) => aheadOf(query, snapshot) === null,
      reply: (body, snapshot, request) =>
        reply(evaluateBulk(deps, request.key, body, snapshot, request.ifNoneMatch, request.acceptEncoding)),
      refusal: (error) => failure(undefined)(error),
      unavailable: () => ({ status: 500, payload: JSON.stringify(unavailable), headers: {} }),
    },
  ];
}

function send(reply: FastifyReply, answer: OfrepAnswer) {
  reply.code(answer.status);
  for (const [name, value] of Object.entries(answer.headers ?? {})) reply.header(name, value);
  if (answer.status === 304) return reply.send();
  if (answer.raw !== undefined) return reply.type('application/json; charset=utf-8').send(answer.raw);
  if (answer.encoded) {
    varyOnEncoding(reply);
    if (answer.encoded.encoding) reply.header('content-encoding', answer.encoded.encoding);
    return reply.header('content-type', 'application/json; charset=utf-8').send(answer.encoded.payload);
  }
  return reply.send(answer.body);
}

export function registerOfrepRoutes(app: FastifyInstance, deps: SdkDeps & OfrepDeps) {
  const auth = sdkAuth(deps.access, deps.evaluationLimit, { kinds: ['server', 'mobile', 'client'], bearer: true });
  const common = {
    config: { cacheControl: 'no-store', checksOwnInput: true },
    // Bulk answers are compressed by gzip.ts (above a threshold, cached per ETag); single ones are tiny.
    compress: false,
    decompress: false,
    preParsing: unencodedBodiesOnly,
    schema: { body: OfrepBody },
    preHandler: auth,
  } as const;
  registerSdkPreflight(app, [SINGLE, BULK]);
  app.addFrameworkErrorAnswer(unroutableKey);

  app.post(
    SINGLE,
    {
      ...common,
      errorHandler(error: FastifyError, req: FastifyRequest, reply: FastifyReply) {
        const failure = requestFailure(error);
        if (!failure) throw error;
        return reply.code(400).send({ key: (req.params as { key: string }).key, ...failure });
      },
    },
    fromSnapshot(
      deps.snapshots,
      (req, reply, snapshot) =>
        send(reply, evaluateOne(deps, req.sdkKey!, (req.params as { key: string }).key, req.body, snapshot)),
      (req, reply) => reply.code(500).send({ key: (req.params as { key: string }).key, ...unavailable }),
    ),
  );

  app.post(
    BULK,
    {
      ...common,
      errorHandler(error: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
        const failure = requestFailure(error);
        if (!failure) throw error;
        return reply.code(400).send(failure);
      },
    },
    fromSnapshot(
      deps.snapshots,
      async (req, reply, found) => {
        const ahead = aheadOf(req.query as Record<string, unknown>, found);
        const snapshot = ahead === null ? found : await caughtUp(deps.snapshots, found.environmentId, ahead);
        if (!snapshot) return reply.code(500).send(unavailable);
        return send(
          reply,
          evaluateBulk(
            deps,
            req.sdkKey!,
            req.body,
            snapshot,
            req.headers['if-none-match'],
            req.headers['accept-encoding'],
          ),
        );
      },
      (_req, reply) => reply.code(500).send(unavailable),
    ),
  );
}
