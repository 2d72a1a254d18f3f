import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { SdkMetrics } from './recorder.js';

const FLUSH_MS = 10_000;

/**
 * Evaluation counts and tracked events, recorded in memory by the SDK doors and written in
 * batches every few seconds, off the request path, and once more when the server closes.
 */
export const sdkMetricsPlugin = fp(
  async (app: FastifyInstance) => {
    const metrics = new SdkMetrics(() => app.orm.em.fork(), app.clock);
    const failed = (err: Error) => app.log.warn(`metrics flush failed: ${err.message}`);
    const timer = setInterval(() => void metrics.flush().catch(failed), FLUSH_MS);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await metrics.flush().catch(failed);
    });
    app.decorate('sdkMetrics', metrics);
  },
  { name: 'sdk-metrics' },
);
