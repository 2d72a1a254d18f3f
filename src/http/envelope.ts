import { randomFillSync, randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import compress from '@fastify/compress';
import { errorCodes, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import secureJson from 'secure-json-parse';
import { Type } from 'typebox';
import { bodyParseProblem, jsonValueProblem, NOT_JSON, REQUEST_JSON_LIMITS } from '../common/json.js';
import { asDomainError } from '../db/errors.js';
import { ServiceUnavailableError, shuttingDown } from '../errors.js';

/**
 * The REST conventions of the API reference, for every route: request ids, the error envelope
 * `{"error", "request_id"}`, strict bodies, 415 for non-JSON bodies, Cache-Control.
 */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  return requestIdFrom(req.headers['x-request-id']);
}

/** The incoming X-Request-Id when it is acceptable, else a new one (from `fresh`). */
export function requestIdFrom(incoming: unknown, fresh: () => string = newRequestId): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : fresh();
}

/**
 * A new request id (a UUID), as one flat string: Node builds randomUUID()'s string by
 * concatenation, a tree of 17 strings (about 490 bytes of heap against 66 flat), and a live
 * stream keeps its request's id for as long as it is open.
 */
export function newRequestId(): string {
  return randomUUID().toLowerCase();
}

const BATCH_IDS = 256;
const UUID_LENGTH = 36;
const HEX = Buffer.from('0123456789abcdef');
let batch = '';
let nextInBatch = BATCH_IDS;

/**
 * A request id (a random UUID, as newRequestId) for an answer that is written and forgotten: the
 * SDK fast lane. UUIDs are made 256 at a time into one string and each id is a slice of it, which
 * costs no concatenation or flattening per request (randomUUID builds its string from 17 parts).
 * A slice keeps its batch (9 KB) alive, so nothing that outlives its request may hold one.
 */
export function transientRequestId(): string {
  if (nextInBatch === BATCH_IDS) {
    batch = uuidBatch();
    nextInBatch = 0;
  }
  const start = nextInBatch++ * UUID_LENGTH;
  return batch.slice(start, start + UUID_LENGTH);
}

/** BATCH_IDS version-4 UUIDs (RFC 9562), lower-case, one after another. */
function uuidBatch(): string {
  const random = randomFillSync(Buffer.allocUnsafe(16 * BATCH_IDS));
  const out = Buffer.allocUnsafe(UUID_LENGTH * BATCH_IDS);
  let o = 0;
  for (let id = 0; id < BATCH_IDS; id++) {
    const r = id * 16;
    random[r + 6] = (random[r + 6]! & 0x0f) | 0x40; // version 4
    random[r + 8] = (random[r + 8]! & 0x3f) | 0x80; // variant 10
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) out[o++] = 0x2d; // '-'
      const byte = random[r + i]!;
      out[o++] = HEX[byte >> 4]!;
      out[o++] = HEX[byte & 0x0f]!;
    }
  }
  return out.toString('latin1');
}

/** The REST error body's schema, for the OpenAPI document. */
export const ErrorEnvelope = Type.Object(
  {
    error: Type.String({ description: 'What went wrong, in one sentence.' }),
    request_id: Type.String({ description: 'The same value as the X-Request-Id header.' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Machine-readable details.' })),
  },
  { description: 'Every error of every REST route: nothing was changed.' },
);

/** The REST error body. */
export function envelope(requestId: string, message: string, extra?: Record<string, unknown>) {
  return { error: message, request_id: requestId, ...extra };
}

/**
 * How an error is answered on every REST door (fastify's error handler, the SDK lane, refused
 * WebSocket upgrades): a DomainError keeps its status, message and details and, when it says when
 * to retry, a Retry-After; anything else is a 500 that says nothing more.
 */
export function errorAnswer(
  requestId: string,
  thrown: unknown,
): { status: number; headers: Record<string, string>; body: ReturnType<typeof envelope> } {
  const error = asDomainError(thrown);
  if (!error) return { status: 500, headers: {}, body: envelope(requestId, 'internal server error') };
  const headers: Record<string, string> =
    error instanceof ServiceUnavailableError ? { 'retry-after': String(error.retryAfterSeconds) } : {};
  const extra = error.details ? { details: error.details } : undefined;
  return { status: error.status, headers, body: envelope(requestId, error.message, extra) };
}

/**
 * Answers an error fastify raised before routing, in a protocol's own shape (OFREP's failure body
 * for its flag paths), or undefined to leave it to the next one or the envelope.
 */
export type FrameworkErrorAnswer = (
  error: FastifyError,
  req: FastifyRequest,
  reply: FastifyReply,
) => FastifyReply | undefined;

const frameworkErrorAnswers = Symbol('frameworkErrorAnswers');

/**
 * Errors fastify raises before routing (a path that is not valid percent-encoding, an overlong
 * path parameter): a route family's own answer where one claims the path, else the envelope.
 */
export function frameworkError(error: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  // No hook ran for this request: the id header is set here.
  reply.header('x-request-id', reply.request.id);
  const answers = (reply.server as unknown as { [frameworkErrorAnswers]?: FrameworkErrorAnswer[] })[
    frameworkErrorAnswers
  ];
  for (const answer of answers ?? []) {
    const answered = answer(error, req, reply);
    if (answered !== undefined) return answered;
  }
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is not valid';
  return sendError(reply, status, message);
}

export function sendError(reply: FastifyReply, status: number, message: string, extra?: Record<string, unknown>) {
  return reply
    .status(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(envelope(reply.request.id, message, extra));
}

/** Answers a request no route matched (a reply), or undefined to leave it to the next one or the 404. */
export type PageFallback = (req: FastifyRequest, reply: FastifyReply) => FastifyReply | Promise<unknown> | undefined;

declare module 'fastify' {
  interface FastifyInstance {
    /** Lets a plugin answer requests no route matched (the console's client-side routes). */
    addPageFallback(fallback: PageFallback): void;
    /** Lets a route family answer the errors fastify raises before routing in its own shape. */
    addFrameworkErrorAnswer(answer: FrameworkErrorAnswer): void;
  }
  interface FastifyContextConfig {
    /** Cache-Control for this route; management and auth routes default to `private, no-cache`. */
    cacheControl?: string;
    /**
     * The route checks the JSON values it reads itself (the SDK doors, with their limits and in
     * their protocol's error shape); every other route gets the generic check below.
     */
    checksOwnInput?: boolean;
  }
}

/** Turns the first Ajv error into one sentence that names the field (or query parameter). */
export function validationMessage(
  first: {
    instancePath: string;
    keyword: string;
    params: unknown;
    message?: string;
  },
  part: string | undefined = 'body',
): string {
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const params = first.params as Record<string, unknown>;
  const what = part === 'querystring' ? 'query parameter' : part === 'params' ? 'path parameter' : 'field';
  switch (first.keyword) {
    case 'additionalProperties':
      return `unknown ${what} "${path ? `${path}.` : ''}${String(params.additionalProperty)}"`;
    case 'required':
      return `${what} "${path ? `${path}.` : ''}${String(params.missingProperty)}" is required`;
    case 'enum':
      return `${what} "${path}" must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    default:
      return path ? `${what} "${path}" ${first.message}` : `${part === 'body' ? 'body' : what} ${first.message}`;
  }
}

function describeValidation(error: FastifyError): string {
  const first = error.validation?.[0];
  return first ? validationMessage(first, error.validationContext) : error.message;
}

/** Fastify's error for a JSON body it could not take, with what is wrong with it. */
export type BodyParseError = FastifyError & { problem?: string };

const JSON_PARSE = { protoAction: 'error', constructorAction: 'error' } as const;

function parseJsonBody(_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) {
  if (body.length === 0) return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY());
  try {
    done(null, secureJson.parse(body, undefined, JSON_PARSE));
  } catch (thrown) {
    const error: BodyParseError = new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
    error.problem = bodyParseProblem(thrown);
    done(error);
  }
}

/** The status and message of an error fastify or a hook raised: 500 for anything unexpected. */
export function statusOf(error: FastifyError): { status: number; message: string } {
  if (error.validation) return { status: 400, message: describeValidation(error) };
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: 'Content-Type must be application/json' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: (error as BodyParseError).problem ?? NOT_JSON };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'request body is too large' };
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, message: error.message };
  }
  return { status: 500, message: 'internal server error' };
}

function installEnvelope(app: FastifyInstance): void {
  // JSON is the only body the API reads: anything else is a 415 on every route (fastify would
  // otherwise parse text/plain and answer its bodies with a 400).
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser, except that its refusal says why (a prototype-reaching member).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);

  // Callback-style hooks: they run on every request, SDK hot path included, and an async hook
  // costs a promise and a microtask turn each.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });

  // No route reads a NUL character or a value nested without bound, wherever it hides.
  app.addHook('preValidation', (req, reply, done) => {
    if (req.routeOptions.config?.checksOwnInput) return done();
    const problem =
      (req.body === undefined ? null : jsonValueProblem(req.body, 'body', REQUEST_JSON_LIMITS)) ??
      // Query and path objects come from fastify's parsers with prototypes of their own.
      jsonValueProblem({ ...(req.query as object) }, 'query', REQUEST_JSON_LIMITS) ??
      jsonValueProblem({ ...(req.params as object) }, 'path', REQUEST_JSON_LIMITS);
    if (problem) return void sendError(reply, 400, problem);
    done();
  });

  app.addHook('onSend', (req, reply, payload, done) => {
    if (!reply.hasHeader('cache-control')) {
      reply.header('cache-control', req.routeOptions.config?.cacheControl ?? 'private, no-cache');
    }
    done(null, payload);
  });

  app.setErrorHandler((error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (asDomainError(error)) {
      const answer = errorAnswer(req.id, error);
      return reply.status(answer.status).headers(answer.headers).send(answer.body);
    }
    const { status, message } = statusOf(error);
    if (status >= 500) req.log.error({ err: error }, 'unhandled error');
    return sendError(reply, status, message);
  });

  // A path no route matches: a page the console claims (it routes itself in the browser), else
  // the 404 envelope. A fallback, not a wildcard route, so fastify's router still answers an
  // overlong path parameter with 414 (frameworkErrors).
  const pageFallbacks: PageFallback[] = [];
  app.decorate('addPageFallback', (fallback: PageFallback) => void pageFallbacks.push(fallback));
  const answers: FrameworkErrorAnswer[] = [];
  Object.defineProperty(app, frameworkErrorAnswers, { value: answers });
  app.decorate('addFrameworkErrorAnswer', (answer: FrameworkErrorAnswer) => void answers.push(answer));
  const methods = routeMethods(app);
  app.setNotFoundHandler((req, reply) => {
    for (const fallback of pageFallbacks) {
      const answered = fallback(req, reply);
      if (answered !== undefined) return answered;
    }
    const path = req.url.split('?')[0] ?? '';
    // A path that exists under other methods: 405 naming them (RFC 9110, 15.5.6), not 404.
    const allowed = methods.of(path);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, 405, `${req.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`);
    }
    return sendError(reply, 404, `route ${req.method} ${path} not found`);
  });
}

/**
 * Which methods the routes registered from now on answer on a path. A router of its own, filled
 * as fastify registers each route (with the same matching rules), asked only for paths no route
 * took, so it costs nothing on a matched request.
 */
function routeMethods(app: FastifyInstance): { of(path: string): string[] } {
  const router = FindMyWay({ maxParamLength: 100 });
  const known = new Set<string>();
  const verbs: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const entry = `${method} ${route.url}`;
      if (known.has(entry)) continue; // one path under several constraints
      known.add(entry);
      router.on(method as HTTPMethod, route.url, () => undefined);
      if (!verbs.includes(method)) verbs.push(method);
    }
  });
  return {
    of(path) {
      return verbs.filter((method) => router.find(method as HTTPMethod, path) !== null);
    },
  };
}

/**
 * The REST conventions of every route (this file), the HTTPS rule and response compression.
 * Registered first, so that every later route and plugin answers by them.
 */
export const httpConventionsPlugin = fp(
  async (app: FastifyInstance, options: { requireHttps: boolean }) => {
    installEnvelope(app);
    // Once close() begins, every request still arriving is told so in the envelope (fastify's own
    // 503 has another shape), and its connection is not kept alive.
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });
    app.addHook('onRequest', (_req, reply, done) => {
      if (!closing) return done();
      reply.header('connection', 'close');
      done(shuttingDown());
    });
    if (options.requireHttps) {
      // Behind a proxy listed in TRUST_PROXY, req.protocol honours X-Forwarded-Proto; otherwise
      // it is the socket's own protocol, so a forged header from anyone else changes nothing.
      app.addHook('onRequest', async (req, reply) => {
        if (req.protocol !== 'https' && req.url !== '/healthz' && req.url !== '/readyz') {
          return sendError(reply, 403, 'HTTPS is required');
        }
      });
    }
    await app.register(compress, { global: true, threshold: 0, encodings: ['gzip', 'deflate'] });
  },
  { name: 'http-conventions' },
);

/** What node:http could not parse as a request, by its error code: status and envelope message. */
function clientErrorAnswer(code: string | undefined): [number, string] {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'the request did not arrive in time'];
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'the request line and headers are too large'];
  return [400, 'the request is not valid HTTP/1.1'];
}

/**
 * Fastify's `clientErrorHandler`: a request node:http could not parse (an unknown method, headers
 * over the size limit, a malformed request line, a timeout) is answered in the envelope with a
 * request id, as everything else, and the connection closed. Expected client behaviour, so it is
 * logged at debug only; a reset or a socket already gone gets nothing.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] = clientErrorAnswer(error.code);
  const id = newRequestId();
  this.log.debug({ reqId: id, code: error.code }, 'unparseable request');
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify(envelope(id, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${id}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}
