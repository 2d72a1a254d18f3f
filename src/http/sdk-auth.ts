import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';
import type { CachedSdkKey, SdkKeyCache } from '../modules/keys/cache.js';
import type { SdkKeyKind } from '../modules/keys/entity.js';
import type { RateLimit } from './rate-limit.js';

/**
 * SDK authentication for the evaluation routes: `X-API-Key` (or, for OFREP,
 * `Authorization: Bearer`), or the client-side ID in the path. Resolved from memory; the
 * database is never on this path for a known key.
 */
declare module 'fastify' {
  interface FastifyRequest {
    sdkKey: CachedSdkKey | null;
  }
}

export interface SdkAuthOptions {
  /** Key kinds this route accepts. */
  kinds: readonly SdkKeyKind[];
  /** Route param holding a client-side ID (`/v1/client/:envKey/flags`). */
  pathParam?: string;
  /** Also accept `Authorization: Bearer <key>` (OFREP providers send the key that way). */
  bearer?: boolean;
}

const INVALID = 'API key is invalid';

function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function presentedKey(req: FastifyRequest, options: SdkAuthOptions): string | undefined {
  const apiKey = header(req, 'x-api-key');
  if (apiKey) return apiKey;
  if (options.bearer) {
    const match = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '');
    if (match) return match[1];
  }
  return undefined;
}

async function resolve(cache: SdkKeyCache, value: string): Promise<CachedSdkKey | null> {
  const hit = cache.resolve(value);
  return hit instanceof Promise ? await hit : hit;
}

/** A browser origin is checked against a client-side ID's allow-list; allowed ones get CORS headers. */
function checkOrigin(req: FastifyRequest, reply: FastifyReply, key: CachedSdkKey): void {
  const origin = header(req, 'origin');
  if (!origin) return;
  if (key.kind === 'client' && !key.allowAnyOrigin && !key.origins.has(origin)) {
    throw new ForbiddenError(`origin ${origin} is not authorized for this client-side ID`);
  }
  reply.header('access-control-allow-origin', origin);
  reply.header('vary', 'Origin');
  reply.header(
    'access-control-expose-headers',
    'ETag, X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset',
  );
}

export function sdkAuth(cache: SdkKeyCache, limit: RateLimit, options: SdkAuthOptions) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const value = presentedKey(req, options);
    const pathValue = options.pathParam ? (req.params as Record<string, string>)[options.pathParam] : undefined;
    // The client is the first 12 characters of the key (the reference's rule), else the IP.
    await limit.check(value ? value.slice(0, 12) : pathValue ? pathValue.slice(0, 12) : req.ip, reply);

    let key: CachedSdkKey | null = null;
    if (pathValue) {
      const envKey = await resolve(cache, pathValue);
      if (envKey?.kind !== 'client') throw new UnauthenticatedError(INVALID);
      key = envKey;
      if (value) {
        // A server key for the same environment lifts the client-side filter.
        const secret = await resolve(cache, value);
        if (!secret) throw new UnauthenticatedError(INVALID);
        if (secret.environmentId !== envKey.environmentId)
          throw new ForbiddenError('the API key belongs to another environment');
        key = secret;
      }
    } else {
      if (!value) throw new UnauthenticatedError(INVALID);
      key = await resolve(cache, value);
      if (!key) throw new UnauthenticatedError(INVALID);
    }
    if (!options.kinds.includes(key.kind)) {
      throw new ForbiddenError(
        `a ${key.kind === 'client' ? 'client-side ID' : `${key.kind} key`} cannot use this route`,
      );
    }
    checkOrigin(req, reply, key);
    req.sdkKey = key;
  };
}

/** Preflight answers for browser SDKs; the real request is checked against the allow-list. */
export function registerSdkPreflight(app: FastifyInstance, paths: string[]) {
  for (const url of paths) {
    app.options(url, async (req, reply) => {
      const origin = header(req, 'origin');
      if (origin) {
        reply.header('access-control-allow-origin', origin);
        reply.header('vary', 'Origin');
      }
      reply.header('access-control-allow-methods', 'GET, POST, OPTIONS');
      reply.header(
        'access-control-allow-headers',
        'Content-Type, X-API-Key, Authorization, If-None-Match, Last-Event-ID',
      );
      reply.header('access-control-max-age', '600');
      return reply.status(204).send();
    });
  }
}
