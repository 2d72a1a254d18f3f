import compress from '@fastify/compress';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import type { Orm } from './db/orm.js';
import { registerGraphQL } from './graphql/yoga.js';
import { installEnvelope, requestId, sendError } from './http/envelope.js';
import { createRateLimit } from './http/rate-limit.js';
import { registerAuthRoutes } from './modules/accounts/routes.js';
import { loadAllEnvironmentData, loadEnvironmentData } from './modules/flags/snapshot-source.js';
import { SdkKeyCache } from './modules/keys/cache.js';
import { SdkMetrics } from './modules/metrics/recorder.js';
import { SdkLane } from './modules/sdk/lane.js';
import { registerSdkRoutes } from './modules/sdk/routes.js';
import { ChangeBus } from './realtime/bus.js';
import { LiveHub } from './realtime/pubsub.js';
import { SnapshotStore } from './realtime/snapshots.js';
import { registerSseRoutes } from './realtime/sse.js';
import { attachGraphQLWebSocket } from './realtime/ws.js';

const AJV_OPTIONS = { removeAdditional: false, coerceTypes: false, allErrors: false };
const BODY_LIMIT = 1024 * 1024;

export interface AppDeps {
  config: Config;
  orm: Orm;
  /** Tests pass a controllable clock (key grace periods) instead of sleeping. */
  clock?: Clock;
  /** Where logs go (tests capture them to prove no secret is ever logged). */
  logStream?: NodeJS.WritableStream;
}

/** Builds the whole HTTP surface from its parts; main.ts and the tests both call this. */
export async function buildApp({ config, orm, clock = systemClock, logStream }: AppDeps): Promise<FastifyInstance> {
  const lane = new SdkLane();
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Credentials never reach the logs, whatever a later serializer decides to include.
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'req.headers["api-key"]',
          'req.headers.cookie',
        ],
        censor: '[redacted]',
      },
      ...(logStream ? { stream: logStream } : {}),
    },
    genReqId: requestId,
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    ajv: { customOptions: AJV_OPTIONS },
    bodyLimit: BODY_LIMIT,
    // The SDK fast lane sees requests first (src/modules/sdk/lane.ts); enabled once routes exist.
    serverFactory: lane.serverFactory,
  });

  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 2 }) : undefined;
  const bus = new ChangeBus(String(orm.config.get('clientUrl')), {
    info: (m) => app.log.info(m),
    warn: (m) => app.log.warn(m),
  });
  const keyCache = new SdkKeyCache(() => orm.em.fork(), clock);
  const snapshots = new SnapshotStore({
    all: () => loadAllEnvironmentData(orm.em.fork()),
    one: (environmentId) => loadEnvironmentData(orm.em.fork(), environmentId),
  });
  // Live views (GraphQL subscriptions, SSE) hear snapshot updates and key reloads through the hub.
  const hub = new LiveHub(
    snapshots,
    async (environmentId) => {
      const rows: { project_id: string; key: string }[] = await orm.em
        .fork()
        .execute('select project_id, key from environments where id = ?', [environmentId]);
      return rows[0] ? { projectId: rows[0].project_id, key: rows[0].key } : null;
    },
    () => clock.now(),
  );

  // Every node hears every change: key revocations and new environments reach this node's cache.
  bus.on('change', (change) => {
    const keys = change.kind.startsWith('sdkkey.') || change.kind.startsWith('environment.');
    for (const environmentId of Object.keys(change.environments)) {
      if (keys) {
        keyCache
          .reloadEnvironment(environmentId)
          .then(() => hub.keysReloaded(environmentId))
          .catch((err: Error) => app.log.warn(`key cache reload failed: ${err.message}`));
      }
      if (!change.kind.startsWith('sdkkey.')) {
        snapshots
          .reload(environmentId, change)
          .catch((err: Error) => app.log.warn(`snapshot reload failed: ${err.message}`));
      }
    }
  });
  bus.on('resync', () => {
    keyCache
      .loadAll()
      .then(() => hub.allKeysReloaded())
      .catch((err: Error) => app.log.warn(`key cache resync failed: ${err.message}`));
    snapshots.loadAll().catch((err: Error) => app.log.warn(`snapshot resync failed: ${err.message}`));
  });
  await bus.start();
  await Promise.all([keyCache.loadAll(), snapshots.loadAll()]);
  const lastUsedTimer = setInterval(() => void keyCache.flushLastUsed().catch(() => undefined), 10_000);
  lastUsedTimer.unref();

  app.addHook('onClose', async () => {
    clearInterval(lastUsedTimer);
    await keyCache.flushLastUsed().catch(() => undefined);
    await bus.stop();
    await redis?.quit().catch(() => undefined);
  });

  installEnvelope(app);
  if (config.requireHttps) {
    // Behind a proxy listed in TRUST_PROXY, req.protocol honours X-Forwarded-Proto; otherwise
    // it is the socket's own protocol, so a forged header from anyone else changes nothing.
    app.addHook('onRequest', async (req, reply) => {
      if (req.protocol !== 'https' && req.url !== '/healthz' && req.url !== '/readyz') {
        return sendError(reply, 403, 'HTTPS is required');
      }
    });
  }
  await app.register(compress, { global: true, threshold: 0, encodings: ['gzip', 'deflate'] });

  const settings = {
    jwtSecret: config.jwtSecret,
    tokenTtlMinutes: config.tokenTtlMinutes,
    refreshTtlHours: config.refreshTtlHours,
  };
  const prefix = config.rateLimitPrefix;
  const authLimit = createRateLimit({ name: 'auth', prefix, perMinute: config.authRateLimitPerMinute, redis });
  const managementLimit = createRateLimit({
    name: 'mgmt',
    prefix,
    perMinute: config.managementRateLimitPerMinute,
    redis,
  });
  const evaluationLimit = createRateLimit({
    name: 'eval',
    prefix,
    perMinute: config.evaluationRateLimitPerMinute,
    redis,
  });
  // WebSocket upgrades are anonymous per-IP requests: the AUTH_RATE_LIMIT budget, counted apart from logins.
  const upgradeLimit = createRateLimit({ name: 'ws', prefix, perMinute: config.authRateLimitPerMinute, redis });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (!bus.connected) return sendError(reply, 503, 'change bus (LISTEN connection) is down');
    try {
      await orm.em.getConnection().execute('select 1');
      return { status: 'ready' };
    } catch {
      return sendError(reply, 503, 'database is not reachable');
    }
  });

  registerAuthRoutes(app, { orm, settings, authLimit });
  // Evaluation counts and tracked events are written in batches, off the request path.
  const sdkMetrics = new SdkMetrics(() => orm.em.fork(), clock);
  const metricsFailed = (err: Error) => app.log.warn(`metrics flush failed: ${err.message}`);
  const metricsTimer = setInterval(() => void sdkMetrics.flush().catch(metricsFailed), 10_000);
  metricsTimer.unref();
  app.addHook('onClose', async () => {
    clearInterval(metricsTimer);
    await sdkMetrics.flush().catch(metricsFailed);
  });
  const hotRoutes = registerSdkRoutes(app, { keyCache, snapshots, evaluationLimit, metrics: sdkMetrics, clock });
  lane.enable({
    routes: hotRoutes,
    keyCache,
    snapshots,
    limit: evaluationLimit,
    log: app.log,
    bodyLimit: BODY_LIMIT,
    requireHttps: config.requireHttps,
    trustProxy: config.trustProxy,
    ajvOptions: AJV_OPTIONS,
  });
  app.addHook('preClose', async () => lane.close());
  app.decorate('sdkLane', lane);
  app.decorate('sdkMetrics', sdkMetrics);
  const live = { hub, keyCache, snapshots };
  const refreshKeys = (id: string) => keyCache.reloadEnvironment(id);
  const yoga = registerGraphQL(app, {
    orm,
    settings,
    clock,
    managementLimit,
    anonymousLimit: authLimit,
    refreshKeys,
    live,
  });
  registerSseRoutes(app, { hub, keyCache, snapshots, evaluationLimit });
  await app.register(import('./http/console.js'));
  const ws = attachGraphQLWebSocket(app, {
    yoga,
    orm,
    settings,
    clock,
    refreshKeys,
    live,
    upgrade: { requireHttps: config.requireHttps, trustProxy: config.trustProxy, rateLimit: upgradeLimit },
  });
  // Open streams would keep close() waiting forever: WebSocket clients get 1001 (going away, so
  // graphql-ws clients reconnect elsewhere and resubscribe), SSE streams a `retry:` hint.
  app.addHook('preClose', async () => {
    await ws.close();
    hub.closeAll();
  });
  app.decorate('changeBus', bus);
  app.decorate('keyCache', keyCache);
  app.decorate('snapshots', snapshots);
  app.decorate('liveHub', hub);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    changeBus: ChangeBus;
    keyCache: SdkKeyCache;
    snapshots: SnapshotStore;
    liveHub: LiveHub;
    sdkLane: SdkLane;
  }
}
