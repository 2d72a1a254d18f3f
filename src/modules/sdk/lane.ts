import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import secureJson from 'secure-json-parse';
import { bodyParseProblem } from '../../common/json.js';
import { asDomainError } from '../../db/errors.js';
import { RateLimitedError, ServiceUnavailableError, ValidationError } from '../../errors.js';
import { errorAnswer, requestIdFrom, transientRequestId, validationMessage } from '../../http/envelope.js';
import { protocolOf, type Trust, trustOf } from '../../http/proxy.js';
import { type RateLimit, type RateLimitVerdict, rateLimitHeaders } from '../../http/rate-limit.js';
import type { Snapshot, SnapshotStore } from '../../realtime/snapshots.js';
import { keyBudget, type SdkAccess } from '../keys/access.js';
import type { CachedSdkKey } from '../keys/cache.js';
import type { SdkKeyKind } from '../keys/entity.js';
import { bearerToken, ENVIRONMENT_UNAVAILABLE } from './common.js';
import { compressedReply } from './gzip.js';

/**
 * The SDK fast lane: `POST /v1/evaluate` and `POST /v1/evaluate/bulk` answered straight from the
 * node:http request, ahead of fastify's router, for the requests that make up nearly all SDK
 * traffic. Fastify's per-request pipeline (hook runners, request/reply objects, a child logger,
 * content-type parser, async preHandler) cost more than half of a small evaluation's budget;
 * this path keeps everything that defines the answer and drops the rest:
 *
 * - the same route definitions: body schema compiled by fastify's own Ajv compiler with the
 *   app's options, response schema by fastify's fast-json-stringify compiler, the same answer
 *   function (see `LaneRoute`), the same JSON parser with the same prototype-poisoning rules;
 * - the same SDK-key cache, rate limiter and headers (X-Request-Id, X-RateLimit-*, no-store);
 * - the same error envelope and messages for what it can refuse after reading a body (bad JSON,
 *   schema violations, a bad context, the rate limit).
 *
 * It only takes a request it can answer without anything else fastify does: an exact path, a
 * JSON content type, a Content-Length body within the limit, no Content-Encoding/Expect/Origin,
 * a cached usable key of an accepted kind whose environment snapshot is in memory, HTTPS when
 * required. Anything else (unknown keys, CORS, chunked bodies, shutdown) goes to fastify, which
 * answers it as before; both paths are checked against each other in test/sdk-lane.test.ts.
 * Requests the lane answers are not access-logged at `info` as fastify's are (evaluation
 * volume is what the metrics pipeline counts); its 500s are logged with their request id.
 */
/** An answer already serialized (the route's own JSON), sent as it is on both paths. */
export class RawJson {
  constructor(readonly json: string) {}
}

export interface LaneRoute {
  /** The exact path; with `prefix`, what precedes the one path segment given to the route as `param`. */
  url: string;
  prefix?: boolean;
  /** The route takes (and ignores, or reads in `accepts`) a query string. */
  query?: boolean;
  /** The key may also come as `Authorization: Bearer <key>` (OFREP), as presentedSdkKey reads it. */
  bearer?: boolean;
  kinds: readonly SdkKeyKind[];
  bodySchema: unknown;
  /** With `answer`: the 200 body's schema (fast-json-stringify). */
  responseSchema?: unknown;
  /** The 200 body for a validated request; may throw a DomainError (a bad context). */
  answer?(body: unknown, snapshot: Snapshot, request: LaneRequest): unknown;
  /** Or the whole reply (routes whose answers are not all 200s of one shape). */
  reply?(body: unknown, snapshot: Snapshot, request: LaneRequest): LaneReply;
  /** The route's own answer to a body that is not JSON or fails its schema; else the REST envelope. */
  refusal?(
    error: { code: string; problem: string } | { validation: ValidationIssue[] },
    request: LaneRequest,
  ): LaneReply | undefined;
  /** The route's own answer when the key's environment is gone; else 503 in the REST envelope. */
  unavailable?(request: LaneRequest): LaneReply;
  /** False leaves the request to fastify (say, one that must wait for a newer snapshot). */
  accepts?(query: URLSearchParams, snapshot: Snapshot): boolean;
}

interface ValidationIssue {
  instancePath: string;
  keyword: string;
  params: unknown;
  message?: string;
}

/** What a route learns of the request beyond its body. */
export interface LaneRequest {
  key: CachedSdkKey;
  presented: string;
  param?: string;
  ifNoneMatch?: string;
  acceptEncoding?: string;
}

export interface LaneReply {
  status: number;
  payload: string | Buffer;
  headers: Record<string, string>;
  /** The body was chosen by Accept-Encoding (answer `Vary: Accept-Encoding`). */
  vary?: boolean;
}

interface CompiledRoute extends LaneRoute {
  validate: ((body: unknown) => boolean) & { errors?: ValidationIssue[] | null };
  serialize(body: unknown): string;
}

export interface LaneDeps {
  routes: readonly LaneRoute[];
  access: SdkAccess;
  snapshots: SnapshotStore;
  limit: RateLimit;
  log: FastifyBaseLogger;
  bodyLimit: number;
  requireHttps: boolean;
  trustProxy: string[];
  ajvOptions: Record<string, unknown>;
}

/** What the lane reads of a request's headers, or null when one of them means "leave it to fastify". */
interface LaneHeaders {
  contentType?: string;
  contentLength?: string;
  apiKey?: string;
  authorization?: string;
  requestId?: string;
  forwardedProto?: string;
  ifNoneMatch?: string;
  acceptEncoding?: string;
}

/**
 * One pass over rawHeaders, so no headers object is built for the requests the lane takes.
 * Repeated headers, and any that fastify must handle (encodings, Expect, CORS), send the
 * request to fastify.
 */
function laneHeaders(raw: string[]): LaneHeaders | null {
  // Slots by number, read into one object literal at the end: the same shape for every request.
  const slots: (string | undefined)[] = [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ];
  for (let i = 0; i < raw.length; i += 2) {
    let slot: number;
    switch (raw[i]!.toLowerCase()) {
      case 'content-type':
        slot = 0;
        break;
      case 'content-length':
        slot = 1;
        break;
      case 'x-api-key':
        slot = 2;
        break;
      case 'authorization':
        slot = 3;
        break;
      case 'x-request-id':
        slot = 4;
        break;
      case 'x-forwarded-proto':
        slot = 5;
        break;
      case 'if-none-match':
        slot = 6;
        break;
      case 'accept-encoding':
        slot = 7;
        break;
      case 'content-encoding':
      case 'transfer-encoding':
      case 'expect':
      case 'origin':
        return null;
      default:
        continue;
    }
    if (slots[slot] !== undefined) return null;
    slots[slot] = raw[i + 1];
  }
  return {
    contentType: slots[0],
    contentLength: slots[1],
    apiKey: slots[2],
    authorization: slots[3],
    requestId: slots[4],
    forwardedProto: slots[5],
    ifNoneMatch: slots[6],
    acceptEncoding: slots[7],
  };
}

/**
 * A Content-Length's value as a number, or -1. The HTTP parser has already refused a malformed
 * one; digits are read here because Number() of a fresh header string is a runtime call.
 */
function contentLengthOf(text: string | undefined): number {
  if (text === undefined || text.length === 0 || text.length > 15) return -1;
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    length = length * 10 + digit;
  }
  return length;
}

const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-?8\s*)?$/i;
const JSON_UTF8 = 'application/json; charset=utf-8';
/** A reply's `headers` when it adds none (send() skips them without a walk). */
export const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const GZIPPED: Record<string, string> = Object.freeze({ 'content-encoding': 'gzip' }) as Record<string, string>;
const JSON_PARSE = { protoAction: 'error', constructorAction: 'error' } as const;
const ignore = () => undefined;

/**
 * secure-json-parse's answer for a body, without its two regular-expression scans of the text
 * when neither can match: both look for a quoted `__proto__` or `constructor` member name,
 * spelled out or with `\u` escapes, so a text holding neither word and no `\u` has none.
 */
function parseJson(raw: Buffer): unknown {
  const text = raw.toString();
  if (
    text.charCodeAt(0) === 0xfeff ||
    text.includes('\\u') ||
    text.includes('__proto__') ||
    text.includes('constructor')
  )
    return secureJson.parse(text, undefined, JSON_PARSE);
  return JSON.parse(text);
}

export class SdkLane {
  private routes = new Map<string, CompiledRoute>();
  private prefixes: CompiledRoute[] = [];
  private deps: LaneDeps | undefined;
  private trusted: Trust = () => false;
  private closing = false;
  /** Requests this lane answered (tests prove the lane, not fastify, served them). */
  handled = 0;

  /** Fastify's `serverFactory`: the lane sees each request first and hands on what it does not take. */
  readonly serverFactory = (
    handler: (req: IncomingMessage, res: ServerResponse) => void,
    options: FastifyServerOptions,
  ): Server => {
    const server = createServer((req, res) => {
      if (!this.take(req, res)) handler(req, res);
    });
    // What fastify sets on a server it creates itself.
    server.keepAliveTimeout = options.keepAliveTimeout ?? 72_000;
    server.requestTimeout = options.requestTimeout ?? 0;
    server.setTimeout(options.connectionTimeout ?? 0);
    if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return server;
  };

  enable(deps: LaneDeps): void {
    const validators = AjvCompiler()({}, { customOptions: deps.ajvOptions });
    const serializers = SerializerSelector()({}, {});
    for (const route of deps.routes) {
      this.routes.set(route.url, {
        ...route,
        validate: validators({
          schema: route.bodySchema,
          method: 'POST',
          url: route.url,
          httpPart: 'body',
        }) as CompiledRoute['validate'],
        serialize:
          route.responseSchema === undefined
            ? JSON.stringify
            : (serializers({
                schema: route.responseSchema,
                method: 'POST',
                url: route.url,
                httpStatus: '200',
              }) as CompiledRoute['serialize']),
      });
      if (route.prefix) this.prefixes.push(this.routes.get(route.url)!);
    }
    this.trusted = trustOf(deps.trustProxy);
    this.deps = deps;
  }

  /** From here on fastify answers everything (503 + Connection: close while it closes). */
  close(): void {
    this.closing = true;
  }

  /** The route for a request target, with its path parameter and query; undefined when none fits. */
  private route(target: string): { route: CompiledRoute; param?: string; query?: string } | undefined {
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? undefined : target.slice(q + 1);
    const exact = this.routes.get(path);
    if (exact !== undefined && !exact.prefix)
      return query === undefined || exact.query ? { route: exact, query } : undefined;
    if (query !== undefined) return undefined;
    for (const route of this.prefixes) {
      if (!path.startsWith(route.url)) continue;
      const raw = path.slice(route.url.length);
      // One segment, within fastify's parameter length; anything odd is fastify's to answer.
      if (raw.length === 0 || raw.length > 100 || raw.includes('/')) return undefined;
      // Most keys hold no escapes: decoding them would only copy the string.
      if (!raw.includes('%')) return { route, param: raw };
      try {
        return { route, param: decodeURIComponent(raw) };
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  private take(req: IncomingMessage, res: ServerResponse): boolean {
    const deps = this.deps;
    if (deps === undefined || this.closing || req.method !== 'POST') return false;
    const found = this.route(req.url ?? '');
    if (found === undefined) return false;
    const { route } = found;
    const h = laneHeaders(req.rawHeaders);
    if (h === null) return false;
    const type = h.contentType;
    if (type !== 'application/json' && (type === undefined || !JSON_TYPE.test(type))) return false;
    const length = contentLengthOf(h.contentLength);
    if (!(length > 0 && length <= deps.bodyLimit)) return false;
    if (deps.requireHttps && protocolOf(req.socket, h.forwardedProto, this.trusted) !== 'https') return false;
    const presented = h.apiKey || (route.bearer ? bearerToken(h.authorization) : undefined);
    if (presented === undefined || presented.length === 0) return false;
    const key = deps.access.cachedKey(presented, route.kinds);
    if (key === undefined) return false;
    const snapshot = deps.snapshots.get(key.environmentId);
    if (snapshot === undefined) return false;
    if (route.accepts && !route.accepts(new URLSearchParams(found.query ?? ''), snapshot)) return false;

    this.handled++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', ignore); // a client gone mid-body: nothing to answer
    const id = requestIdFrom(h.requestId, transientRequestId);
    const request: LaneRequest = {
      key,
      presented,
      param: found.param,
      ifNoneMatch: h.ifNoneMatch,
      acceptEncoding: h.acceptEncoding,
    };
    req.on('end', () => this.answer(res, id, route, request, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    return true;
  }

  private answer(res: ServerResponse, id: string, route: CompiledRoute, request: LaneRequest, raw: Buffer) {
    let body: unknown;
    try {
      body = parseJson(raw);
    } catch (thrown) {
      const problem = bodyParseProblem(thrown);
      const own = route.refusal?.({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', problem }, request);
      if (own) return this.send(res, id, undefined, own);
      return this.refuse(res, id, undefined, new ValidationError(problem));
    }
    if (!route.validate(body)) {
      const errors = route.validate.errors ?? [];
      const own = route.refusal?.({ validation: errors }, request);
      if (own) return this.send(res, id, undefined, own);
      const first = errors[0];
      return this.refuse(
        res,
        id,
        undefined,
        new ValidationError(first ? validationMessage(first) : 'request body is invalid'),
      );
    }
    // The budget the SDK-key door names, as on every SDK route.
    this.deps!.limit.decide(
      keyBudget(request.presented),
      (verdict: RateLimitVerdict) => {
        if (!verdict.allowed) return this.refuse(res, id, verdict, new RateLimitedError());
        // The snapshot may have been replaced while the limiter answered (a change landed).
        const snapshot = this.deps!.snapshots.get(request.key.environmentId);
        if (snapshot === undefined) {
          if (route.unavailable) return this.send(res, id, verdict, route.unavailable(request));
          return this.refuse(res, id, verdict, new ServiceUnavailableError(ENVIRONMENT_UNAVAILABLE));
        }
        let reply: LaneReply;
        try {
          if (route.reply) reply = route.reply(body, snapshot, request);
          else {
            const answer = route.answer!(body, snapshot, request);
            const json = answer instanceof RawJson ? answer.json : route.serialize(answer);
            // Most SDKs send no Accept-Encoding: nothing more to decide for them.
            const encoded =
              request.acceptEncoding === undefined
                ? { payload: json }
                : compressedReply(null, '', request.acceptEncoding, () => json);
            reply = {
              status: 200,
              payload: encoded.payload,
              headers: encoded.encoding ? GZIPPED : NO_HEADERS,
              vary: true,
            };
          }
        } catch (err) {
          return this.refuse(res, id, verdict, err);
        }
        this.send(res, id, verdict, reply);
      },
      (err: unknown) => this.refuse(res, id, undefined, err),
    );
  }

  /** Writes a reply with the headers every SDK answer carries. */
  private send(res: ServerResponse, id: string, verdict: RateLimitVerdict | undefined, reply: LaneReply) {
    // A flat list: node:http writes it as it comes, without walking an object's keys.
    const headers: (string | number)[] = ['x-request-id', id];
    if (verdict)
      headers.push(
        'x-ratelimit-limit',
        verdict.limit,
        'x-ratelimit-remaining',
        verdict.remaining,
        'x-ratelimit-reset',
        verdict.reset,
      );
    headers.push('cache-control', 'no-store');
    if (reply.headers !== NO_HEADERS) for (const name in reply.headers) headers.push(name, reply.headers[name]!);
    if (reply.vary) headers.push('vary', 'accept-encoding');
    if (reply.status === 304) return res.writeHead(304, headers as string[]).end();
    headers.push('content-type', JSON_UTF8, 'content-length', String(Buffer.byteLength(reply.payload)));
    res.writeHead(reply.status, headers as string[]).end(reply.payload);
  }

  /** Answers `error` in the REST envelope; anything but a DomainError is a logged 500. */
  private refuse(res: ServerResponse, id: string, verdict: RateLimitVerdict | undefined, error: unknown) {
    if (!asDomainError(error)) this.deps!.log.error({ err: error, reqId: id }, 'unhandled error');
    const answer = errorAnswer(id, error);
    const payload = JSON.stringify(answer.body);
    res
      .writeHead(answer.status, {
        'x-request-id': id,
        ...(verdict ? rateLimitHeaders(verdict) : undefined),
        ...answer.headers,
        'content-type': JSON_UTF8,
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(payload),
      })
      .end(payload);
  }
}
