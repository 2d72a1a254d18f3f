import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { headerValue } from '../../http/headers.js';
import type { RateLimit } from '../../http/rate-limit.js';
import { budgetOf, type SdkAccess, type SdkCredential } from '../keys/access.js';
import type { CachedSdkKey } from '../keys/cache.js';
import type { SdkKeyKind } from '../keys/entity.js';
import { bearerToken } from './common.js';

/**
 * SDK authentication for the fastify SDK routes: `X-API-Key` (or, for OFREP,
 * `Authorization: Bearer`), or the client-side ID in the path, decided by the SDK-key door
 * (modules/keys/access.ts) from memory; the database is never on this path for a known key.
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

/** The SDK key a request presents: `X-API-Key`, or with `bearer` also `Authorization: Bearer <key>`. */
export function presentedSdkKey(req: FastifyRequest, bearer = false): string | undefined {
  const apiKey = headerValue(req.headers['x-api-key']);
  if (apiKey || !bearer) return apiKey;
  return bearerToken(headerValue(req.headers.authorization));
}

/** A browser origin allowed by the door gets the CORS headers SDKs read. */
function allowOrigin(req: FastifyRequest, reply: FastifyReply): void {
  const origin = headerValue(req.headers.origin);
  if (!origin) return;
  reply.header('access-control-allow-origin', origin);
  reply.header('vary', 'Origin');
  reply.header(
    'access-control-expose-headers',
    'ETag, X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset',
  );
}

/**
 * The preHandler of an SDK route: the door's verdict, and the request counted against the budget
 * the door names (a valid key's client, else the caller's IP). A key this node must look up first
 * is paid for by the caller's IP before the lookup, so garbage keys cost their sender.
 */
export function sdkAuth(access: SdkAccess, limit: RateLimit, options: SdkAuthOptions) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const credential: SdkCredential = {
      presented: presentedSdkKey(req, options.bearer),
      pathValue: options.pathParam ? (req.params as Record<string, string>)[options.pathParam] : undefined,
      origin: headerValue(req.headers.origin),
    };
    let verdict = access.checkInMemory(credential, options.kinds);
    let paidByIp = false;
    if (verdict === undefined) {
      await limit.check(budgetOf(null, credential, req.ip), reply);
      paidByIp = true;
      verdict = await access.check(credential, options.kinds);
    }
    if (verdict instanceof Error) {
      if (!paidByIp) await limit.check(budgetOf(null, credential, req.ip), reply);
      throw verdict;
    }
    await limit.check(budgetOf(verdict, credential, req.ip), reply);
    allowOrigin(req, reply);
    req.sdkKey = verdict;
  };
}

/** Preflight answers for browser SDKs; the real request is checked against the allow-list. */
export function registerSdkPreflight(app: FastifyInstance, paths: string[]) {
  for (const url of paths) {
    app.options(url, async (req, reply) => {
      const origin = headerValue(req.headers.origin);
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
