import Fastify, { type FastifyInstance } from 'fastify';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import type { Orm } from './db/orm.js';
import { contextFactory } from './graphql/context.js';
import { useInputChecks, useTypedErrors } from './graphql/inputs.js';
import { useOperationLimits } from './graphql/limits.js';
import { graphqlPlugin } from './graphql/yoga.js';
import { clientErrorHandler, frameworkError, httpConventionsPlugin, requestId } from './http/envelope.js';
import { healthPlugin } from './http/health.js';
import { loggerOptions } from './http/logging.js';
import { openApiPlugin } from './http/openapi.js';
import { rateLimitsPlugin } from './http/rate-limit.js';
import { jobsPlugin } from './jobs/queue.js';
import { registerAuthRoutes } from './modules/accounts/routes.js';
import { changeSchedulerPlugin } from './modules/approvals/scheduler.js';
import { flagSnapshotSource } from './modules/flags/snapshot-source.js';
import { provisionFlagStates } from './modules/flags/state.js';
import { resolvePrincipal } from './modules/identity/resolve.js';
import { mailerPlugin } from './modules/invitations/mail.js';
import { registerInvitationRoutes } from './modules/invitations/routes.js';
import { sdkKeysPlugin } from './modules/keys/plugin.js';
import { provisionClientSideId } from './modules/keys/service.js';
import { metricsRollupPlugin, sdkMetricsPlugin } from './modules/metrics/plugin.js';
import { SdkLane } from './modules/sdk/lane.js';
import { flagValuesFastPath, sdkKeyConnectionCheck } from './modules/sdk/live.js';
import { sdkPlugin } from './modules/sdk/plugin.js';
import { registerSignupRoute } from './modules/signup/routes.js';
import { registerSsoRoute } from './modules/sso/routes.js';
import { webhooksPlugin } from './modules/webhooks/plugin.js';
import { prometheusPlugin } from './ops/prometheus.js';
import { changeBusPlugin } from './realtime/bus.js';
import { hubPlugin } from './realtime/hub.js';
import { snapshotsPlugin } from './realtime/snapshots.js';
import { eventStreamsPlugin } from './realtime/sse.js';
import { graphqlWebSocketPlugin } from './realtime/ws.js';
import { restPlugin } from './rest/plugin.js';
import { restRoutes } from './routes.js';
import { schema } from './schema.js';

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

declare module 'fastify' {
  interface FastifyInstance {
    orm: Orm;
    clock: Clock;
  }
}

/** Builds the whole server from its parts; main.ts and the tests both call this. */
export async function buildApp({ config, orm, clock = systemClock, logStream }: AppDeps): Promise<FastifyInstance> {
  // The SDK fast lane sees requests before fastify's router (src/modules/sdk/lane.ts).
  const lane = new SdkLane();
  const app = Fastify({
    logger: loggerOptions({ level: config.logLevel, stream: logStream }),
    genReqId: requestId,
    frameworkErrors: frameworkError,
    clientErrorHandler,
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    ajv: { customOptions: AJV_OPTIONS },
    bodyLimit: BODY_LIMIT,
    serverFactory: lane.serverFactory,
    // Requests arriving while the server closes are answered by the HTTP conventions (the envelope).
    return503OnClosing: false,
  });
  app.decorate('orm', orm);
  app.decorate('clock', clock);

  // Conventions every route answers by.
  await app.register(httpConventionsPlugin, { requireHttps: config.requireHttps });
  // The operator's view (GET /metrics): first, so that it times every route registered after it.
  await app.register(prometheusPlugin, { token: config.metricsToken });
  // The OpenAPI document sees every route registered after it.
  await app.register(openApiPlugin);
  await app.register(rateLimitsPlugin, {
    prefix: config.rateLimitPrefix,
    redisUrl: config.redisUrl,
    authPerMinute: config.authRateLimitPerMinute,
    managementPerMinute: config.managementRateLimitPerMinute,
    evaluationPerMinute: config.evaluationRateLimitPerMinute,
    sensitivePerMinute: config.sensitiveRateLimitPerMinute,
  });

  // The change pipeline: every node hears every change, and keeps its caches fresh from it.
  await app.register(changeBusPlugin, { databaseUrl: String(orm.config.get('clientUrl')) });
  await app.register(snapshotsPlugin, { source: flagSnapshotSource(() => orm.em.fork()) });
  await app.register(hubPlugin);
  await app.register(sdkKeysPlugin);
  await app.register(eventStreamsPlugin);
  await app.register(sdkMetricsPlugin);
  // Work that happens later, exactly once, on whichever node takes it.
  await app.register(jobsPlugin, { databaseUrl: String(orm.config.get('clientUrl')) });
  await app.register(changeSchedulerPlugin);
  await app.register(mailerPlugin, { smtpUrl: config.smtpUrl, from: config.smtpFrom });
  await app.register(webhooksPlugin, { settings: config.webhooks, serverSecret: config.jwtSecret });
  await app.register(metricsRollupPlugin);

  // The doors.
  await app.register(healthPlugin);
  const settings = {
    jwtSecret: config.jwtSecret,
    tokenTtlMinutes: config.tokenTtlMinutes,
    refreshTtlHours: config.refreshTtlHours,
  };
  // What an environment is born with, from the modules that own it (projects knows none of them).
  const environmentProvisioners = [provisionFlagStates, provisionClientSideId];
  registerAuthRoutes(app, { orm, settings, authLimit: app.rateLimits.auth });
  registerSignupRoute(app, { orm, settings, authLimit: app.rateLimits.auth, environmentProvisioners });
  registerSsoRoute(app, { orm, settings, authLimit: app.rateLimits.auth });
  registerInvitationRoutes(app, { orm, settings, authLimit: app.rateLimits.auth });
  await app.register(sdkPlugin, {
    lane,
    evaluationLimit: app.rateLimits.evaluation,
    bodyLimit: BODY_LIMIT,
    requireHttps: config.requireHttps,
    trustProxy: config.trustProxy,
    ajvOptions: AJV_OPTIONS,
    streamSecret: config.jwtSecret,
  });
  await app.register(graphqlPlugin, {
    schema,
    context: contextFactory({
      em: () => orm.em.fork(),
      resolvePrincipal: (em, credentials, options) =>
        resolvePrincipal(em, { ...credentials }, settings.jwtSecret, options),
      settings,
      clock,
      refreshKeys: (environmentId) => app.keyCache.reloadEnvironment(environmentId),
      services: {
        hub: app.hub,
        snapshots: app.snapshots,
        sdkAccess: app.sdkAccess,
        environmentProvisioners,
        changeScheduler: app.changeScheduler,
        invitations: { mailer: app.mailer, publicUrl: config.publicUrl },
        webhooks: app.webhooks,
      },
    }),
    plugins: [
      ...useOperationLimits({
        management: app.rateLimits.management,
        auth: app.rateLimits.auth,
        evaluation: app.rateLimits.evaluation,
        field: app.rateLimits.field,
      }),
      useInputChecks(),
      useTypedErrors(),
    ],
  });
  // The REST management API: each route a GraphQL operation of the same schema.
  await app.register(restPlugin, { routes: restRoutes, schema, ajvOptions: AJV_OPTIONS });
  await app.register(import('./http/console.js'));
  await app.register(graphqlWebSocketPlugin, {
    upgrade: { requireHttps: config.requireHttps, trustProxy: config.trustProxy, rateLimit: app.rateLimits.upgrade },
    fastPaths: [flagValuesFastPath],
    connectionChecks: [sdkKeyConnectionCheck],
    keepAliveMs: config.wsPingIntervalMs,
  });

  // Shutdown, after graphql-ws has closed its sockets (its preClose runs first): every stream
  // still open ends with a reconnect hint, so close() is not kept waiting.
  app.addHook('preClose', async () => app.hub.closeAll());
  return app;
}
