import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { SdkMetrics } from './recorder.js';
import { rollUpMetrics } from './rollup.js';

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

export const METRICS_ROLLUP_QUEUE = 'metrics-rollup';

/**
 * The hourly roll-up of counts and tracked events (rollup.ts), on the job queue: one node runs
 * it each hour, and `app.jobs.send(METRICS_ROLLUP_QUEUE)` runs it now.
 */
export const metricsRollupPlugin = fp(
  async (app: FastifyInstance) => {
    await app.jobs.createQueue(METRICS_ROLLUP_QUEUE, { policy: 'stately', deleteAfterSeconds: 86_400 });
    await app.jobs.work(METRICS_ROLLUP_QUEUE, { pollingIntervalSeconds: 5 }, () =>
      rollUpMetrics(app.orm.em.fork(), app.clock.now()),
    );
    await app.jobs.schedule(METRICS_ROLLUP_QUEUE, '7 * * * *');
  },
  { name: 'metrics-rollup', dependencies: ['jobs'] },
);
