import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { RateLimit } from '../../http/rate-limit.js';
import type { SdkDeps } from './common.js';
import { CompressedBodies } from './gzip.js';
import type { SdkLane } from './lane.js';
import { OfrepStreams, registerOfrepStreamRoute } from './ofrep-stream.js';
import { registerSdkRoutes } from './routes.js';
import { registerStreamRoute } from './stream.js';

export interface SdkPluginOptions {
  /** The lane the server factory put ahead of fastify (app.ts creates it with the server). */
  lane: SdkLane;
  evaluationLimit: RateLimit;
  bodyLimit: number;
  requireHttps: boolean;
  trustProxy: string[];
  ajvOptions: Record<string, unknown>;
  /** The service secret OFREP event stream tokens are signed with (a key derived from it). */
  streamSecret: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    sdkLane: SdkLane;
  }
}

/**
 * The SDK doors: evaluation, client-side flags, the datafile, event tracking, OFREP, the SSE
 * bridge, OFREP event streams, and the fast lane that answers the hottest four (REST and OFREP
 * evaluations, single and bulk) ahead of fastify.
 */
export const sdkPlugin = fp(
  async (app: FastifyInstance, options: SdkPluginOptions) => {
    const deps: SdkDeps = {
      access: app.sdkAccess,
      snapshots: app.snapshots,
      hub: app.hub,
      evaluationLimit: options.evaluationLimit,
      metrics: app.sdkMetrics,
      clock: app.clock,
    };
    const routeDeps = {
      ...deps,
      streams: new OfrepStreams(options.streamSecret, () => app.clock.now()),
      compressed: new CompressedBodies(),
    };
    const hotRoutes = registerSdkRoutes(app, routeDeps);
    registerStreamRoute(app, deps);
    registerOfrepStreamRoute(app, routeDeps);
    options.lane.enable({
      routes: hotRoutes,
      access: app.sdkAccess,
      snapshots: app.snapshots,
      limit: options.evaluationLimit,
      log: app.log,
      bodyLimit: options.bodyLimit,
      requireHttps: options.requireHttps,
      trustProxy: options.trustProxy,
      ajvOptions: options.ajvOptions,
    });
    // From here on fastify answers everything (503 + Connection: close while it closes).
    app.addHook('preClose', async () => options.lane.close());
    app.decorate('sdkLane', options.lane);
  },
  { name: 'sdk', dependencies: ['sdk-keys', 'snapshots', 'hub', 'sdk-metrics', 'event-streams'] },
);
