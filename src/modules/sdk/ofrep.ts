import { createHash } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientSideOnly, type EvaluationContext, evaluateAll, evaluateFlag } from '../../evaluation/index.js';
import type { Snapshot } from '../../realtime/snapshots.js';
import { registerSdkPreflight, sdkAuth } from './auth.js';
import { ENVIRONMENT_UNAVAILABLE, etagMatches, fromSnapshot, type SdkDeps } from './common.js';
import { openFeatureContext } from './context.js';
import { type OfrepFailure, ofrepResult, ofrepStatus } from './present.js';
import { OfrepBody } from './schemas.js';

/**
 * The OpenFeature Remote Evaluation Protocol (open-feature/protocol, service/openapi.yaml):
 * `POST /ofrep/v1/evaluate/flags/{key}` and the bulk `POST /ofrep/v1/evaluate/flags` with
 * ETag / If-None-Match. Key in `Authorization: Bearer` or `X-API-Key`. Failures use OFREP's
 * bodies (`{key, errorCode, errorDetails}`), not the REST envelope, except 401/403/413/415/429
 * for which the spec defines no body. Visibility as on /v1/evaluate: client-side IDs see only
 * client-side-available flags (others are FLAG_NOT_FOUND), server and mobile keys see all.
 */
const SINGLE = '/ofrep/v1/evaluate/flags/:key';
const BULK = '/ofrep/v1/evaluate/flags';

type Failure = { errorCode: OfrepFailure['errorCode']; errorDetails: string };

/** Request problems Fastify found (bad JSON, unknown field, wrong type) as an OFREP failure. */
function requestFailure(error: FastifyError): Failure | null {
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return { errorCode: 'PARSE_ERROR', errorDetails: 'request body is not valid JSON' };
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

const unavailable = { errorCode: 'GENERAL', errorDetails: ENVIRONMENT_UNAVAILABLE } as const;

export function registerOfrepRoutes(app: FastifyInstance, deps: SdkDeps) {
  const { metrics } = deps;
  const auth = sdkAuth(deps.access, deps.evaluationLimit, { kinds: ['server', 'mobile', 'client'], bearer: true });
  const common = {
    config: { cacheControl: 'no-store', checksOwnInput: true },
    compress: false,
    decompress: false,
    schema: { body: OfrepBody },
    preHandler: auth,
  } as const;
  registerSdkPreflight(app, [SINGLE, BULK]);

  const evaluateOne = (req: FastifyRequest, reply: FastifyReply, snapshot: Snapshot) => {
    const key = (req.params as { key: string }).key;
    const parsed = contextOf(req.body);
    if ('failure' in parsed) return reply.code(400).send({ key, ...parsed.failure });
    const flag = snapshot.compiled.flags.get(key);
    if (flag === undefined || (req.sdkKey!.kind === 'client' && !flag.definition.clientSideAvailable)) {
      return reply.code(404).send({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag "${key}" not found` });
    }
    const result = evaluateFlag(flag, parsed.context);
    metrics.evaluations.recordOne(snapshot.environmentId, result);
    const answer = ofrepResult(result);
    return reply.code(ofrepStatus(answer)).send(answer);
  };

  const evaluateBulk = (req: FastifyRequest, reply: FastifyReply, snapshot: Snapshot) => {
    const parsed = contextOf(req.body);
    if ('failure' in parsed) return reply.code(400).send(parsed.failure);
    const clientSide = req.sdkKey!.kind === 'client';
    // The answer depends on the environment version, on what the key may see and on the context.
    const contextHash = createHash('sha256').update(JSON.stringify(parsed.context)).digest('base64url').slice(0, 22);
    const etag = `${snapshot.etag.slice(0, -1)}.${clientSide ? 'c' : 'a'}.${contextHash}"`;
    reply.header('etag', etag);
    if (etagMatches(req.headers['if-none-match'], etag)) return reply.code(304).send();
    const results = evaluateAll(snapshot.compiled, parsed.context, clientSide ? clientSideOnly : undefined);
    metrics.evaluations.record(snapshot.environmentId, results);
    return { flags: results.map(ofrepResult) };
  };

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
    fromSnapshot(deps.snapshots, evaluateOne, (req, reply) =>
      reply.code(500).send({ key: (req.params as { key: string }).key, ...unavailable }),
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
    fromSnapshot(deps.snapshots, evaluateBulk, (_req, reply) => reply.code(500).send(unavailable)),
  );
}
