import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { sendError } from '../http/envelope.js';
import type { ChangePayload } from '../realtime/changes.js';
import type { SnapshotUpdate } from '../realtime/snapshots.js';
import { RouteHistogram } from './route-histogram.js';

/**
 * The operator's view: `GET /metrics` in the Prometheus text format (prom-client), behind
 * METRICS_TOKEN (`Authorization: Bearer <token>`) when it is set. Each app has a registry of its
 * own (tests run several nodes in one process).
 *
 * Nothing here adds work to the SDK fast lane: the lane and the evaluation counter keep plain
 * numbers (SdkLane.handled, EvaluationCounter.served) that the scrape reads; the other gauges
 * are read at scrape time too (collect callbacks). What is observed per event is observed
 * where events are rare, or cheaply: each fastify-routed request (route-histogram.ts), each
 * change notification and each snapshot rebuild.
 */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CHANGE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Whether `header` is `Bearer <token>`, compared in constant time. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = header?.startsWith('Bearer ') ? header.slice(7) : '';
  return timingSafeEqual(digest(presented), digest(token));
}

export const prometheusPlugin = fp(
  async (app: FastifyInstance, options: { token?: string }) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });

    // HTTP requests fastify routes (the SDK fast lane's are counted apart, below).
    const requests = new RouteHistogram(
      'vexil_http_request_duration_seconds',
      'HTTP requests routed by fastify, by method, route pattern and status.',
      HTTP_BUCKETS,
    );
    registry.registerMetric(requests.asMetric());
    app.addHook('onResponse', (req, reply, done) => {
      requests.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });

    new Counter({
      name: 'vexil_sdk_evaluations_total',
      help: 'Flag evaluations served to SDKs (every door), unknown flags excluded.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(app.sdkMetrics.evaluations.served);
      },
    });
    new Counter({
      name: 'vexil_sdk_lane_requests_total',
      help: 'Requests answered by the SDK fast lane (POST /v1/evaluate and /v1/evaluate/bulk), ahead of fastify.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(app.sdkLane.handled);
      },
    });
    new Gauge({
      name: 'vexil_tracked_events_buffered',
      help: 'Tracked events held in memory, waiting for the next flush.',
      registers: [registry],
      collect() {
        this.set(app.sdkMetrics.events.size);
      },
    });
    new Gauge({
      name: 'vexil_live_subscribers',
      help: 'Open live connections, by transport: SSE streams (the SSE bridge), graphql-ws sockets.',
      labelNames: ['transport'],
      registers: [registry],
      collect() {
        this.set({ transport: 'sse' }, app.eventStreams.size);
        this.set({ transport: 'graphql-ws' }, app.graphqlWebSocket.clients);
      },
    });
    new Gauge({
      name: 'vexil_live_streams',
      help: 'Open live streams of every kind (SSE streams and GraphQL subscriptions on any transport).',
      registers: [registry],
      collect() {
        this.set(app.hub.openStreams);
      },
    });
    new Gauge({
      name: 'vexil_change_bus_connected',
      help: "1 while this node's LISTEN connection is up.",
      registers: [registry],
      collect() {
        this.set(app.changeBus.connected ? 1 : 0);
      },
    });
    const disconnects = new Counter({
      name: 'vexil_change_bus_disconnects_total',
      help: 'Times the LISTEN connection was lost (each is followed by a reconnect and a resync).',
      registers: [registry],
    });
    const lag = new Histogram({
      name: 'vexil_change_notification_lag_seconds',
      help: 'From a change being announced in the database to this node hearing of it.',
      buckets: CHANGE_BUCKETS,
      registers: [registry],
    });
    const rebuild = new Histogram({
      name: 'vexil_snapshot_rebuild_seconds',
      help: "From hearing of a change to the environment's new snapshot being in place (read and compile).",
      buckets: CHANGE_BUCKETS,
      registers: [registry],
    });
    new Gauge({
      name: 'vexil_snapshots',
      help: 'Environment snapshots held in memory.',
      registers: [registry],
      collect() {
        this.set(app.snapshots.size);
      },
    });
    new Counter({
      name: 'vexil_webhook_deliveries_total',
      help: 'Webhook delivery attempts made by this node, by outcome (delivered, failed, timeout, refused: an unsafe target).',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = app.webhooks.counts;
        for (const outcome of ['delivered', 'failed', 'timeout', 'refused'] as const) {
          this.inc({ outcome }, counts[outcome]);
        }
      },
    });
    new Counter({
      name: 'vexil_webhooks_disabled_total',
      help: 'Webhook endpoints this node disabled for failing too long.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(app.webhooks.counts.disabled);
      },
    });
    new Gauge({
      name: 'vexil_job_queue_jobs',
      help: 'Jobs of the durable job queue (pg-boss), by queue and state.',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        const queues = await app.jobs.getQueues().catch(() => []);
        for (const q of queues) {
          this.set({ queue: q.name, state: 'ready' }, q.readyCount);
          this.set({ queue: q.name, state: 'deferred' }, q.deferredCount);
          this.set({ queue: q.name, state: 'active' }, q.activeCount);
          this.set({ queue: q.name, state: 'failed' }, q.failedCount);
        }
      },
    });
    new Gauge({
      name: 'vexil_db_pool_connections',
      help: "The database pool of this node's ORM, by state (used, free, pending acquires, pending creates).",
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const pool = app.orm.em.getConnection().getKnex().client.pool as TarnPool | undefined;
        if (!pool) return;
        this.set({ state: 'used' }, pool.numUsed());
        this.set({ state: 'free' }, pool.numFree());
        this.set({ state: 'pending_acquires' }, pool.numPendingAcquires());
        this.set({ state: 'pending_creates' }, pool.numPendingCreates());
      },
    });

    // What happens once per change: its lag on arrival, then how long its snapshot took.
    app.addHook('onReady', async () => {
      const heard = new WeakMap<ChangePayload, number>();
      app.changeBus.on('change', (change: ChangePayload) => {
        const now = Date.now();
        heard.set(change, performance.now());
        if (change.at) lag.observe(Math.max(0, now - Date.parse(change.at)) / 1000);
      });
      app.changeBus.on('disconnected', () => disconnects.inc());
      app.snapshots.on('updated', (update: SnapshotUpdate) => {
        const since = update.change ? heard.get(update.change) : undefined;
        if (since !== undefined) rebuild.observe((performance.now() - since) / 1000);
      });
    });

    app.get('/metrics', { config: { cacheControl: 'no-store' } }, async (req, reply) => {
      if (options.token !== undefined && !bearerMatches(req.headers.authorization, options.token)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        return sendError(reply, 401, 'a valid METRICS_TOKEN is required: Authorization: Bearer <token>');
      }
      const text = await registry.metrics();
      return reply.header('content-type', registry.contentType).send(text);
    });
  },
  { name: 'prometheus' },
);

/** What the scrape reads of knex's pool (tarn.js). */
interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
}
