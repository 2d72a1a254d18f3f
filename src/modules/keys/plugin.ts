import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { affectsKeys, type ChangePayload } from '../../realtime/changes.js';
import { SdkAccess } from './access.js';
import { SdkKeyCache } from './cache.js';

declare module 'fastify' {
  interface FastifyInstance {
    keyCache: SdkKeyCache;
    /** The SDK-key door every SDK entry asks (modules/keys/access.ts). */
    sdkAccess: SdkAccess;
  }
}

const LAST_USED_FLUSH_MS = 10_000;

/**
 * The in-memory SDK-key cache: loaded whole at start, refreshed per environment when a change
 * alters its keys, reloaded whole after a bus reconnect; streams hear of every reload through
 * the hub (a revoked key ends them). Last-used times are written every few seconds and at close.
 */
export const sdkKeysPlugin = fp(
  async (app: FastifyInstance) => {
    const cache = new SdkKeyCache(() => app.orm.em.fork(), app.clock);
    const failed = (what: string) => (err: Error) => app.log.warn(`${what} failed: ${err.message}`);
    app.changeBus.on('change', (change: ChangePayload) => {
      if (!affectsKeys(change)) return;
      for (const environmentId of Object.keys(change.environments)) {
        cache
          .reloadEnvironment(environmentId)
          .then(() => app.hub.keysReloaded(environmentId))
          .catch(failed('key cache reload'));
      }
    });
    app.changeBus.on('resync', () => {
      cache
        .loadAll()
        .then(() => app.hub.allKeysReloaded())
        .catch(failed('key cache resync'));
    });
    await cache.loadAll();
    const timer = setInterval(() => void cache.flushLastUsed().catch(failed('last-used flush')), LAST_USED_FLUSH_MS);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await cache.flushLastUsed().catch(failed('last-used flush'));
    });
    app.decorate('keyCache', cache);
    app.decorate('sdkAccess', new SdkAccess(cache));
  },
  { name: 'sdk-keys', dependencies: ['change-bus', 'hub'] },
);
