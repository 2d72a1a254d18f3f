import compress from '@fastify/compress';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { Orm } from './db/orm.js';
import { registerGraphQL } from './graphql/yoga.js';
import { installEnvelope, requestId, sendError } from './http/envelope.js';
import { createRateLimit } from './http/rate-limit.js';
import { registerAuthRoutes } from './modules/accounts/routes.js';

export interface AppDeps {
  config: Config;
  orm: Orm;
}

/** Builds the whole HTTP surface from its parts; main.ts and the tests both call this. */
export async function buildApp({ config, orm }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Credentials never reach the logs, whatever a later serializer decides to include.
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["api-key"]', 'req.headers.cookie'],
        censor: '[redacted]',
      },
    },
    genReqId: requestId,
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    bodyLimit: 1024 * 1024,
  });

  const redis = config.redisUrl ? new Redis(config.redisUrl, { lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: 2 }) : undefined;
  app.addHook('onClose', async () => {
    await redis?.quit().catch(() => undefined);
  });

  installEnvelope(app);
  await app.register(compress, { global: true, threshold: 0, encodings: ['gzip', 'deflate'] });

  const settings = { jwtSecret: config.jwtSecret, tokenTtlMinutes: config.tokenTtlMinutes, refreshTtlHours: config.refreshTtlHours };
  const authLimit = createRateLimit({ name: 'auth', perMinute: config.authRateLimitPerMinute, redis });
  const managementLimit = createRateLimit({ name: 'mgmt', perMinute: config.managementRateLimitPerMinute, redis });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await orm.em.getConnection().execute('select 1');
      return { status: 'ready' };
    } catch {
      return sendError(reply, 503, 'database is not reachable');
    }
  });

  registerAuthRoutes(app, { orm, settings, authLimit });
  registerGraphQL(app, { orm, settings, managementLimit, anonymousLimit: authLimit });
  return app;
}
