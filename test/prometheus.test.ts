import { getMetricsFromIterator, type PromData, type PromHistogramData, type PromMetrics } from 'prom2javascript';
import { beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { openSse } from './helpers/sse.js';
import { eventually } from './helpers/waiters.js';

// GET /metrics: the Prometheus text format, read here by a Prometheus text-format parser (not
// by string matching), behind METRICS_TOKEN when it is set.

const TOKEN = 'a-scrape-token-of-our-own';
let server: TestServer;
let world: SdkWorld;

beforeAll(async () => {
  server = await startServer({
    METRICS_TOKEN: TOKEN,
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '100000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
});

const parse = (text: string) => getMetricsFromIterator(text.split('\n')[Symbol.iterator]());

async function scrape(): Promise<PromMetrics> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

const matching = (labels: Record<string, string>) => (m: { labels: Record<string, string> }) =>
  Object.entries(labels).every(([k, v]) => m.labels[k] === v);

const value = (metrics: PromMetrics, name: string, labels: Record<string, string> = {}) => {
  const family = metrics[name];
  expect(family, name).toBeDefined();
  const metric = (family!.data as PromData[]).find(matching(labels));
  expect(metric, `${name} ${JSON.stringify(labels)}`).toBeDefined();
  return metric!.value;
};

const histogram = (metrics: PromMetrics, name: string, labels: Record<string, string> = {}) => {
  expect(metrics[name]?.type, name).toBe('histogram');
  return (metrics[name]!.data as PromHistogramData[]).find(matching(labels));
};

describe('GET /metrics', () => {
  it('answers 401 without the token, or with another one', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-it' }, { authorization: TOKEN }] as Record<
      string,
      string
    >[]) {
      const res = await request(server.url, 'GET', '/metrics', { headers });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'a valid METRICS_TOKEN is required: Authorization: Bearer <token>' });
    }
  });

  it('counts SDK evaluations, HTTP requests by route and status, live subscribers, the bus, the job queue and the pool', async () => {
    const flag = await givenDevFlag(server, world, {}, { on: true });
    await snapshotsCaughtUp(server, [world.dev.id]);
    const evaluate = (contextKey: string) =>
      request(server.url, 'POST', '/v1/evaluate', {
        body: { flag_key: flag.key, context: { key: contextKey } },
        headers: { 'x-api-key': world.dev.server },
      });
    // The first request with a key this node has not cached yet goes through fastify, which caches it.
    expect((await evaluate('warm-up')).status).toBe(200);
    const before = await scrape();
    const evaluationsBefore = value(before, 'vexil_sdk_evaluations_total');
    const laneBefore = value(before, 'vexil_sdk_lane_requests_total');
    for (let i = 0; i < 5; i++) expect((await evaluate(`p-${i}`)).status).toBe(200);
    const stream = await openSse(`${server.url}/v1/stream/${world.dev.clientSideId}`, {
      headers: { 'x-api-key': world.dev.server },
    });
    expect(stream.status).toBe(200);
    try {
      const after = (await eventually(async () => {
        const metrics = await scrape();
        return value(metrics, 'vexil_live_subscribers', { transport: 'sse' }) === 1 ? metrics : null;
      }))!;
      expect(value(after, 'vexil_sdk_evaluations_total') - evaluationsBefore).toBe(5);
      expect(value(after, 'vexil_sdk_lane_requests_total') - laneBefore).toBe(5);
      expect(value(after, 'vexil_live_subscribers', { transport: 'graphql-ws' })).toBe(0);
      expect(value(after, 'vexil_change_bus_connected')).toBe(1);
      expect(value(after, 'vexil_snapshots')).toBeGreaterThanOrEqual(3);

      const graphqlOk = histogram(after, 'vexil_http_request_duration_seconds', {
        method: 'POST',
        route: '/graphql',
        status_code: '200',
      });
      expect(graphqlOk?.count).toBeGreaterThan(0);
      expect(graphqlOk?.buckets['+Inf']).toBe(graphqlOk?.count);
      const refused = histogram(after, 'vexil_http_request_duration_seconds', {
        route: '/metrics',
        status_code: '401',
      });
      expect(refused?.count).toBe(3);

      expect(histogram(after, 'vexil_change_notification_lag_seconds')?.count).toBeGreaterThan(0);
      expect(histogram(after, 'vexil_snapshot_rebuild_seconds')?.count).toBeGreaterThan(0);
      expect(
        value(after, 'vexil_job_queue_jobs', { queue: 'webhook-delivery', state: 'ready' }),
      ).toBeGreaterThanOrEqual(0);
      expect(value(after, 'vexil_db_pool_connections', { state: 'used' })).toBeGreaterThanOrEqual(0);
      expect(value(after, 'vexil_webhook_deliveries_total', { outcome: 'delivered' })).toBe(0);
      expect(value(after, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(after['nodejs_eventloop_lag_seconds']?.type).toBe('gauge');
    } finally {
      stream.close();
    }
  });

  it('is open when METRICS_TOKEN is unset', async () => {
    const open = await startServer({});
    const res = await fetch(`${open.url}/metrics`);
    expect(res.status).toBe(200);
    expect((await parse(await res.text()))['vexil_sdk_evaluations_total']?.type).toBe('counter');
    await open.close();
  });
});
