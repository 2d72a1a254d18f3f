import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors.js';

/**
 * Fixed-window rate limits (rate-limiter-flexible). With Redis the counters are shared by every
 * node; without it they live in this process. Every limited route answers the
 * X-RateLimit-Limit / -Remaining / -Reset (Unix timestamp) headers of the API reference.
 */
export interface RateLimit {
  readonly limit: number;
  check(key: string, reply: FastifyReply): Promise<void>;
  /** The same count without a reply (WebSocket upgrades): the verdict and the headers to send. */
  consume(key: string): Promise<RateLimitVerdict>;
  /** `consume` with callbacks (the SDK fast lane). */
  decide(key: string, done: (verdict: RateLimitVerdict) => void, failed: (error: unknown) => void): void;
}

export interface RateLimitVerdict {
  allowed: boolean;
  /** X-RateLimit-Limit / -Remaining / -Reset, and Retry-After when refused (lower-case names). */
  headers: Record<string, string>;
}

export function createRateLimit(options: {
  name: string;
  prefix?: string;
  perMinute: number;
  redis?: Redis;
}): RateLimit {
  const common = { keyPrefix: `${options.prefix ?? 'vexil'}:rl:${options.name}`, points: options.perMinute, duration: 60 };
  const limiter: RateLimiterAbstract = options.redis
    ? new RateLimiterRedis({ ...common, storeClient: options.redis, useRedisPackage: false })
    : new RateLimiterMemory(common);
  const limit = options.perMinute;

  const verdict = (res: RateLimiterRes, allowed: boolean): RateLimitVerdict => {
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - res.consumedPoints)),
      'x-ratelimit-reset': String(Math.ceil((Date.now() + res.msBeforeNext) / 1000)),
    };
    if (!allowed) headers['retry-after'] = String(Math.ceil(res.msBeforeNext / 1000));
    return { allowed, headers };
  };
  // Callbacks rather than an async function: the SDK fast lane calls this per request, and
  // while an AsyncLocalStorage is active (MikroORM enables one) every promise costs hook calls.
  const decide = (key: string, done: (verdict: RateLimitVerdict) => void, failed: (error: unknown) => void): void => {
    limiter.consume(key).then(
      (res) => done(verdict(res, true)),
      (refused: unknown) => (refused instanceof RateLimiterRes ? done(verdict(refused, false)) : failed(refused)),
    );
  };

  const consume = (key: string) => new Promise<RateLimitVerdict>((resolve, reject) => decide(key, resolve, reject));

  return {
    limit,
    async check(key, reply) {
      const { allowed, headers } = await consume(key);
      reply.headers(headers);
      if (!allowed) throw new RateLimitedError();
    },
    consume,
    decide,
  };
}

/** A preHandler that limits by the key `keyOf` derives from the request. */
export function rateLimitBy(rateLimit: RateLimit, keyOf: (req: FastifyRequest) => string) {
  return async (req: FastifyRequest, reply: FastifyReply) => rateLimit.check(keyOf(req), reply);
}
