import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jobsIn } from '../../jobs/queue.js';
import { applyScheduledChange, type ChangeScheduler, type ScheduledJob } from './service.js';

/**
 * Scheduled changes on the durable job queue (src/jobs/queue.ts): scheduling a change sends a
 * job for its time in the same transaction, so it exists exactly when the change does; at that
 * time one node (whichever fetches it first; pg-boss hands a job to one worker) runs it, even if
 * every node restarted in between. A node that stops mid-job leaves it to another's retry, and
 * the job is idempotent under the change's row lock (service.ts, applyScheduledChange).
 */
export const SCHEDULED_CHANGES_QUEUE = 'approvals-scheduled-changes';

declare module 'fastify' {
  interface FastifyInstance {
    changeScheduler: ChangeScheduler;
  }
}

export const changeSchedulerPlugin = fp(
  async (app: FastifyInstance, options: { pollingIntervalSeconds?: number } = {}) => {
    await app.jobs.createQueue(SCHEDULED_CHANGES_QUEUE, {
      // A database that is away for a while must not lose a change: retried for about an hour.
      retryLimit: 20,
      retryDelay: 5,
      retryBackoff: true,
      retryDelayMax: 300,
      expireInSeconds: 300,
    });
    const scheduler: ChangeScheduler = {
      async schedule(em, change) {
        if (!change.applyAt) return;
        const job: ScheduledJob = { id: change.id, applyAt: change.applyAt.toISOString() };
        await app.jobs.send(SCHEDULED_CHANGES_QUEUE, job, { startAfter: change.applyAt, db: jobsIn(em) });
      },
    };
    app.decorate('changeScheduler', scheduler);
    await app.jobs.work<ScheduledJob>(
      SCHEDULED_CHANGES_QUEUE,
      { pollingIntervalSeconds: options.pollingIntervalSeconds ?? 1 },
      async (jobs) => {
        for (const job of jobs) await applyScheduledChange(app.orm.em.fork(), job.data);
      },
    );
  },
  { name: 'change-scheduler', dependencies: ['jobs'] },
);
