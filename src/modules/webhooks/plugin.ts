import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { WebhookSettings } from '../../config.js';
import { onDeliveriesWritten } from './outbox/write.js';
import { type DeliveryCounts, drainEndpoint, newDeliveryCounts, type WorkerDeps } from './worker.js';

/**
 * Webhook delivery on the job queue (pg-boss, `app.jobs`). One queue, `webhook-delivery`, holds
 * at most one waiting and one running job per endpoint (the `stately` policy keyed by the
 * endpoint's id): a job sends that endpoint's due deliveries in order (worker.ts) and, when one
 * failed or more wait, leaves the next job for the time of the next attempt. So one endpoint's
 * deliveries never overtake each other, whichever nodes run them, and a slow or failing
 * endpoint holds back only itself.
 *
 * The outbox rows are the truth, the jobs only say when to look: a change's commit wakes the
 * endpoints it reached at once (outbox/write.ts), and a sweep every minute, on one node (and on
 * every node as it starts), wakes any endpoint with a due delivery, so a node that died between
 * a commit and its wake-up loses nothing. The sweep also disables endpoints failing for too
 * long (an attempt does it as well) and prunes the delivery log.
 *
 * Each job belongs to its endpoint's organization (a pg-boss group), and one organization's jobs
 * run in at most half of a node's slots: an organization whose endpoints all hang (up to 50 of
 * them, each attempt up to WEBHOOK_TIMEOUT_MS) holds back only itself, never other tenants.
 */
export const WEBHOOK_DELIVERY_QUEUE = 'webhook-delivery';
export const WEBHOOK_SWEEP_QUEUE = 'webhook-sweep';

/** Delivered deliveries (and pings) are kept this long in the log; pending ones until they are sent. */
export const DELIVERY_LOG_DAYS = 30;
const POLL_SECONDS = 1;
/** Endpoints one sweep wakes at most (the next sweep wakes the rest). */
const SWEEP_BATCH = 1000;

export interface Webhooks extends WorkerDeps {
  /** Makes sure a job will send `webhookId`'s deliveries at `at` (default: now), or earlier. */
  wake(webhookId: string, at?: Date): Promise<void>;
  /** Wakes every endpoint with a due delivery; disables the ones failing for too long; prunes the log. */
  sweep(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: Webhooks;
  }
}

const DISABLE_STALE = `update webhooks set active = false, disabled_at = now(),
  disabled_reason = 'failing since ' || to_char(failing_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    || ' without a successful delivery'
  where active and failing_since is not null and failing_since < now() - make_interval(secs => ?)`;

export const webhooksPlugin = fp(
  async (app: FastifyInstance, options: { settings: WebhookSettings; serverSecret: string }) => {
    const boss = app.jobs;
    const deps: WorkerDeps = {
      em: () => app.orm.em.fork(),
      settings: options.settings,
      serverSecret: options.serverSecret,
      counts: newDeliveryCounts(),
    };
    const failed = (what: string) => (err: Error) => app.log.warn(`webhooks: ${what} failed: ${err.message}`);

    // A running job past this is taken to be lost with its node and is run again.
    const expireInSeconds = Math.ceil((20_000 + 2 * options.settings.timeoutMs) / 1000) + 30;
    await boss.createQueue(WEBHOOK_DELIVERY_QUEUE, {
      policy: 'stately',
      expireInSeconds,
      retryLimit: 50,
      retryDelay: 5,
      retryBackoff: true,
      retryDelayMax: 300,
      deleteAfterSeconds: 3600,
    });
    await boss.createQueue(WEBHOOK_SWEEP_QUEUE, { policy: 'stately', deleteAfterSeconds: 3600 });

    // An endpoint never changes organization: its group is looked up once.
    const organizations = new Map<string, string>();
    const organizationOf = async (webhookId: string): Promise<string | null> => {
      const known = organizations.get(webhookId);
      if (known) return known;
      const [row] = await app.orm.em
        .fork()
        .execute<{ organization_id: string }[]>('select organization_id from webhooks where id = ?', [webhookId]);
      if (!row) return null;
      if (organizations.size >= 10_000) organizations.clear();
      organizations.set(webhookId, row.organization_id);
      return row.organization_id;
    };

    let workerId: string | undefined;
    const wake = async (webhookId: string, at?: Date) => {
      const later = at !== undefined && at.getTime() > Date.now();
      const organizationId = await organizationOf(webhookId);
      // A deleted endpoint has nothing left to send.
      if (organizationId === null) return;
      const id = await boss.send(
        WEBHOOK_DELIVERY_QUEUE,
        { webhookId },
        { singletonKey: webhookId, group: { id: organizationId }, ...(later ? { startAfter: at } : {}) },
      );
      if (id !== null) {
        if (!later && workerId) boss.notifyWorker(workerId);
        return;
      }
      // A job already waits: when this is a wake-up for now, it must not wait for a later retry time.
      if (!later) {
        await boss.update(WEBHOOK_DELIVERY_QUEUE, undefined, { singletonKey: webhookId, startAfter: new Date() });
        if (workerId) boss.notifyWorker(workerId);
      }
    };

    const sweep = async () => {
      const em = app.orm.em.fork();
      await em.execute(DISABLE_STALE, [options.settings.disableAfterSeconds]);
      const due: { webhook_id: string }[] = await em.execute(
        `select distinct d.webhook_id from webhook_deliveries d join webhooks w on w.id = d.webhook_id
         where d.status = 'pending' and d.next_attempt_at <= now() and w.active limit ?`,
        [SWEEP_BATCH],
      );
      for (const row of due) await wake(row.webhook_id);
      await em.execute(
        `delete from webhook_deliveries where status <> 'pending' and created_at < now() - make_interval(days => ?)`,
        [DELIVERY_LOG_DAYS],
      );
      await em.execute(
        `delete from webhook_events ev where ev.created_at < now() - interval '1 day'
         and not exists (select 1 from webhook_deliveries d where d.event_id = ev.id)`,
      );
    };

    workerId = await boss.work<{ webhookId: string }>(
      WEBHOOK_DELIVERY_QUEUE,
      {
        localConcurrency: options.settings.concurrency,
        localGroupConcurrency: Math.max(1, Math.floor(options.settings.concurrency / 2)),
        pollingIntervalSeconds: POLL_SECONDS,
      },
      async ([job]) => {
        if (!job) return;
        const next = await drainEndpoint(deps, job.data.webhookId);
        if (next !== null) await wake(job.data.webhookId, next);
      },
    );
    await boss.work(WEBHOOK_SWEEP_QUEUE, { pollingIntervalSeconds: 10 }, () => sweep());
    await boss.schedule(WEBHOOK_SWEEP_QUEUE, '* * * * *');

    const stopListening = onDeliveriesWritten(app.orm.config, (webhookIds) => {
      for (const id of webhookIds) wake(id).catch(failed('wake-up'));
    });
    app.addHook('onClose', async () => stopListening());
    // A node that starts picks up what a node that died left due.
    app.addHook('onReady', async () => {
      await sweep().catch(failed('sweep'));
    });

    app.decorate('webhooks', { ...deps, wake, sweep } satisfies Webhooks);
  },
  { name: 'webhooks', dependencies: ['jobs'] },
);

export type { DeliveryCounts };
