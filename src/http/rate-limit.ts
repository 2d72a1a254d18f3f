import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import MemoryStorage from 'rate-limiter-flexible/lib/component/MemoryStorage/MemoryStorage.js';
import { RateLimitedError } from '../errors.js';

const WINDOW_SECONDS = 60;

/**
 * Fixed-window rate limits (rate-limiter-flexible). With Redis the counters are shared by every
 * node; without it they live in this process. Every limited route answers the
 * X-RateLimit-Limit / -Remaining / -Reset (Unix timestamp) headers of the API reference.
 */
export interface RateLimit {
  readonly limit: number;
  check(key: string, reply: FastifyReply): Promise<void>;
  /**
   * The same count without a reply (WebSocket upgrades, GraphQL operations): the verdict and the
   * headers to send. `points` is what this request spends (1 unless it is a heavy one).
   */
  consume(key: string, points?: number): Promise<RateLimitVerdict>;
  /** `consume` with callbacks (the SDK fast lane); `done` runs before `decide` returns when the counters are in memory. */
  decide(
    key: string,
    done: (verdict: RateLimitVerdict) => void,
    failed: (error: unknown) => void,
    points?: number,
  ): void;
}

/** The budget key of a caller counted by address (anonymous callers, the auth routes, invalid SDK keys). */
export const ipBudget = (ip: string) => `ip:${ip}`;

/** One counted request: whether it may go on, and the values of the X-RateLimit-* headers. */
export interface RateLimitVerdict {
  allowed: boolean;
  limit: string;
  remaining: string;
  /** Unix time (seconds) when the window ends. */
  reset: string;
  /** Seconds until the window ends, when refused. */
  retryAfter?: string;
}

/** X-RateLimit-Limit / -Remaining / -Reset, and Retry-After when refused (lower-case names). */
export function rateLimitHeaders(verdict: RateLimitVerdict): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ratelimit-limit': verdict.limit,
    'x-ratelimit-remaining': verdict.remaining,
    'x-ratelimit-reset': verdict.reset,
  };
  if (verdict.retryAfter !== undefined) headers['retry-after'] = verdict.retryAfter;
  return headers;
}

export function createRateLimit(options: {
  name: string;
  prefix?: string;
  perMinute: number;
  redis?: Redis;
}): RateLimit {
  const keyPrefix = `${options.prefix ?? 'vexil'}:rl:${options.name}`;
  const limit = options.perMinute;
  const limitHeader = String(limit);

  const verdict = (res: RateLimiterRes, allowed: boolean): RateLimitVerdict => ({
    allowed,
    limit: limitHeader,
    remaining: String(Math.max(0, limit - res.consumedPoints)),
    reset: String(Math.ceil((Date.now() + res.msBeforeNext) / 1000)),
    retryAfter: allowed ? undefined : String(Math.ceil(res.msBeforeNext / 1000)),
  });

  let decide: RateLimit['decide'];
  if (options.redis) {
    const limiter = new RateLimiterRedis({
      keyPrefix,
      points: limit,
      duration: WINDOW_SECONDS,
      storeClient: options.redis,
      useRedisPackage: false,
    });
    decide = (key, done, failed, points = 1) => {
      limiter.consume(key, points).then(
        (res) => done(verdict(res, true)),
        (refused: unknown) => (refused instanceof RateLimiterRes ? done(verdict(refused, false)) : failed(refused)),
      );
    };
  } else {
    // The library's own in-memory store, called synchronously. RateLimiterMemory.consume is this
    // same incrby() wrapped in a promise; on the SDK fast lane that promise, its microtask and the
    // async-hook calls it brings (MikroORM keeps an AsyncLocalStorage enabled) cost about 4% of
    // /v1/evaluate's throughput (A/B of two servers under the same load, alternating 2 s rounds).
    // Same window, same "refused once over the limit" rule; each limiter has a store of its
    // own, so its keys need no prefix.
    const store = new MemoryStorage();
    decide = (key, done, _failed, points = 1) => {
      const res = store.incrby(key, points, WINDOW_SECONDS);
      done(verdict(res, res.consumedPoints <= limit));
    };
  }

  const consume = (key: string, points = 1) =>
    new Promise<RateLimitVerdict>((resolve, reject) => decide(key, resolve, reject, points));

  return {
    limit,
    async check(key, reply) {
      const verdict = await consume(key);
      reply.headers(rateLimitHeaders(verdict));
      if (!verdict.allowed) throw new RateLimitedError();
    },
    consume,
    decide,
  };
}

/** A preHandler that limits by the key `keyOf` derives from the request. */
export function rateLimitBy(rateLimit: RateLimit, keyOf: (req: FastifyRequest) => string) {
  return async (req: FastifyRequest, reply: FastifyReply) => rateLimit.check(keyOf(req), reply);
}

/** The budgets of the API reference's route groups. */
export interface RateLimits {
  /** login, register, refresh, SSO: per client IP. */
  auth: RateLimit;
  /** GraphQL and management routes: per member or token (anonymous callers: `auth`). */
  management: RateLimit;
  /** SDK routes: per client (modules/keys/access.ts, `budgetOf`). */
  evaluation: RateLimit;
  /** WebSocket upgrades: per client IP, the auth budget counted apart from logins. */
  upgrade: RateLimit;
  /** A sensitive GraphQL field's budget of its own, created once per name. */
  field(name: string): RateLimit;
}

export interface RateLimitOptions {
  prefix: string;
  redisUrl: string | undefined;
  authPerMinute: number;
  managementPerMinute: number;
  evaluationPerMinute: number;
  sensitivePerMinute: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: RateLimits;
  }
}

/** The limiters, sharing Redis counters when REDIS_URL is set, else counting in this process. */
export const rateLimitsPlugin = fp(
  async (app: FastifyInstance, options: RateLimitOptions) => {
    const redis = options.redisUrl ? new Redis(options.redisUrl, { maxRetriesPerRequest: 2 }) : undefined;
    const limit = (name: string, perMinute: number) =>
      createRateLimit({ name, prefix: options.prefix, perMinute, redis });
    const fields = new Map<string, RateLimit>();
    app.decorate('rateLimits', {
      auth: limit('auth', options.authPerMinute),
      management: limit('mgmt', options.managementPerMinute),
      evaluation: limit('eval', options.evaluationPerMinute),
      upgrade: limit('ws', options.authPerMinute),
      field(name) {
        let known = fields.get(name);
        if (!known) fields.set(name, (known = limit(`field:${name}`, options.sensitivePerMinute)));
        return known;
      },
    } satisfies RateLimits);
    if (redis) app.addHook('onClose', async () => void (await redis.quit().catch(() => undefined)));
  },
  { name: 'rate-limits' },
);
