import type { FastifyInstance } from 'fastify';
import { registerSdkPreflight, sdkAuth } from '../../http/sdk-auth.js';
import type { RateLimit } from '../../http/rate-limit.js';
import type { SnapshotStore } from '../../realtime/snapshots.js';
import type { SdkKeyCache } from '../keys/cache.js';

/** The SDK doors: SDK-key auth from memory, per-client rate limits, `Cache-Control: no-store`. */
export function registerSdkRoutes(app: FastifyInstance, deps: { keyCache: SdkKeyCache; snapshots: SnapshotStore; evaluationLimit: RateLimit }) {
  const noStore = { cacheControl: 'no-store' };
  app.decorateRequest('sdkKey', null);
  registerSdkPreflight(app, ['/v1/client/:envKey/flags']);

  app.get(
    '/v1/client/:envKey/flags',
    { config: noStore, preHandler: sdkAuth(deps.keyCache, deps.evaluationLimit, { kinds: ['client', 'mobile', 'server'], pathParam: 'envKey' }) },
    async (req) => ({ environment_id: req.sdkKey!.environmentId, flags: {} }),
  );
}
