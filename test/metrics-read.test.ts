import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS_ROLLUP_QUEUE } from '../src/modules/metrics/plugin.js';
import { errorCode, graphql, request } from './helpers/client.js';
import { givenAccessToken } from './helpers/credentials.js';
import { givenFlag, givenState } from './helpers/flags.js';
import { givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/waiters.js';

// Reading back what the SDK doors recorded: counts per flag × variation × environment over a
// range in buckets, tracked events per flag, variation and event key, when each flag was last
// evaluated, stale flags, and the roll-up that keeps the tables bounded.

let server: TestServer;
let world: SdkWorld;

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '100000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
});

const evaluate = (flagKey: string, contextKey: string) =>
  request(server.url, 'POST', '/v1/evaluate', {
    body: { flag_key: flagKey, context: { key: contextKey } },
    headers: { 'x-api-key': world.dev.server },
  });
const bulk = (flagKeys: string[], contextKey: string) =>
  request(server.url, 'POST', '/v1/evaluate/bulk', {
    body: { flag_keys: flagKeys, context: { key: contextKey } },
    headers: { 'x-api-key': world.dev.server },
  });

/** A flag serving variation 0 to `alice` and `bob` and variation 1 to everyone else, in dev. */
async function splitFlag() {
  const flag = await givenDevFlag(
    server,
    world,
    {},
    { on: true, targets: [{ variation: 0, values: ['alice', 'bob'] }], fallthrough: { variation: 1 } },
  );
  await snapshotsCaughtUp(server, [world.dev.id]);
  return flag;
}

const FLAG_METRICS = `query($p: ID!, $from: DateTime!, $to: DateTime!, $bucket: MetricsBucket, $keys: [String!]) {
  flagMetrics(projectId: $p, from: $from, to: $to, bucket: $bucket, flagKeys: $keys) {
    from to bucket series { environmentKey flagKey variation total points { start count } }
  } }`;

const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();
const soon = () => new Date(Date.now() + 60_000).toISOString();

describe('flagMetrics', () => {
  it('adds up to the evaluations made, per variation, in minute, hour and day buckets', async () => {
    const flag = await splitFlag();
    for (let i = 0; i < 7; i++) expect((await evaluate(flag.key, 'alice')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await evaluate(flag.key, `carol-${i}`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await bulk([flag.key], 'bob')).status).toBe(200);
    await server.app.sdkMetrics.flush();

    for (const bucket of ['MINUTE', 'HOUR', 'DAY']) {
      const r = await graphql(
        server.url,
        FLAG_METRICS,
        { p: world.project.id, from: hourAgo(), to: soon(), bucket, keys: [flag.key] },
        world.org.auth,
      );
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      const series = r.data.flagMetrics.series;
      expect(series.map((s: { variation: number; total: number }) => [s.variation, s.total])).toEqual([
        [0, 10],
        [1, 5],
      ]);
      for (const s of series) {
        expect(s.environmentKey).toBe('dev');
        expect(s.points.reduce((n: number, p: { count: number }) => n + p.count, 0)).toBe(s.total);
      }
      expect(r.data.flagMetrics.bucket).toBe(bucket);
    }
  });

  it('refuses ranges that are empty or too many buckets long, and callers without metrics:read', async () => {
    const tooLong = await graphql(
      server.url,
      FLAG_METRICS,
      { p: world.project.id, from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z', bucket: 'MINUTE' },
      world.org.auth,
    );
    expect(tooLong.errors?.[0]?.message).toBe(
      'the range spans more than 2000 minutes: narrow it or use a larger bucket',
    );
    const backwards = await graphql(
      server.url,
      FLAG_METRICS,
      { p: world.project.id, from: soon(), to: hourAgo() },
      world.org.auth,
    );
    expect(errorCode(backwards)).toBe('VALIDATION');
    const token = await givenAccessToken(server.url, world.org.auth, { kind: 'SERVICE', permissions: ['flag:read'] });
    const refused = await graphql(
      server.url,
      FLAG_METRICS,
      { p: world.project.id, from: hourAgo(), to: soon() },
      { 'api-key': token.data.createAccessToken.value },
    );
    expect(errorCode(refused)).toBe('FORBIDDEN');
  });
});

describe('trackedEventMetrics', () => {
  it('counts impressions by flag and variation and custom events by key, with their values', async () => {
    const res = await request(server.url, 'POST', '/v1/track', {
      headers: { 'x-api-key': world.dev.server },
      body: {
        events: [
          { kind: 'impression', flag_key: 'tracked-flag', variation: 1, context_key: 'u1' },
          { kind: 'impression', flag_key: 'tracked-flag', variation: 1, context_key: 'u2' },
          { kind: 'impression', flag_key: 'tracked-flag', variation: 0, context_key: 'u3' },
          { kind: 'custom', key: 'checkout', value: 10, context_key: 'u1' },
          { kind: 'custom', key: 'checkout', value: 5.5, context_key: 'u2' },
        ],
      },
    });
    expect(res.status).toBe(202);
    await server.app.sdkMetrics.flush();
    const r = await graphql(
      server.url,
      `query($p: ID!, $from: DateTime!, $to: DateTime!) {
        all: trackedEventMetrics(projectId: $p, from: $from, to: $to, flagKeys: ["tracked-flag"]) {
          series { kind flagKey variation eventKey total } }
        custom: trackedEventMetrics(projectId: $p, from: $from, to: $to, kind: CUSTOM, eventKeys: ["checkout"]) {
          series { kind eventKey total valueSum points { count valueSum } } }
      }`,
      { p: world.project.id, from: hourAgo(), to: soon() },
      world.org.auth,
    );
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data.all.series).toEqual([
      { kind: 'IMPRESSION', flagKey: 'tracked-flag', variation: 0, eventKey: null, total: 1 },
      { kind: 'IMPRESSION', flagKey: 'tracked-flag', variation: 1, eventKey: null, total: 2 },
    ]);
    expect(r.data.custom.series).toEqual([
      { kind: 'CUSTOM', eventKey: 'checkout', total: 2, valueSum: 15.5, points: [{ count: 2, valueSum: 15.5 }] },
    ]);
  });
});

describe('which flags are used', () => {
  it('knows when a flag was last evaluated, per flag and per environment', async () => {
    const flag = await splitFlag();
    await evaluate(flag.key, 'alice');
    await server.app.sdkMetrics.flush();
    const r = await graphql(
      server.url,
      `query($key: String!) { project(slug: "default") { flag(key: $key) {
        lastEvaluatedAt environments { environment { key } lastEvaluatedAt } } } }`,
      { key: flag.key },
      world.org.auth,
    );
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    const { lastEvaluatedAt, environments } = r.data.project.flag;
    expect(Date.now() - Date.parse(lastEvaluatedAt)).toBeLessThan(120_000);
    expect(Object.fromEntries(environments.map((e: any) => [e.environment.key, e.lastEvaluatedAt]))).toEqual({
      dev: lastEvaluatedAt,
      staging: null,
      production: null,
    });
  });

  it('asks for force before archiving or deleting a flag evaluated in the last hour', async () => {
    const used = await splitFlag();
    const unused = await givenFlag(server, world.org, world.project);
    await evaluate(used.key, 'carol');
    await server.app.sdkMetrics.flush();
    for (const mutation of ['archiveFlag', 'deleteFlag']) {
      const refused = await graphql(
        server.url,
        `mutation($id: ID!) { ${mutation}(id: $id) { id } }`,
        { id: used.id },
        world.org.auth,
      );
      expect(errorCode(refused)).toBe('CONFLICT');
      expect(refused.errors?.[0]?.message).toMatch(
        new RegExp(
          `^flag "${used.key}" was evaluated within the last hour \\(at .*\\): pass force: true to ${mutation === 'archiveFlag' ? 'archive' : 'delete'} it anyway$`,
        ),
      );
    }
    expect(await server.sql('select archived_at from flags where id = ?', [used.id])).toEqual([{ archived_at: null }]);
    const archived = await graphql(
      server.url,
      'mutation($id: ID!) { archiveFlag(id: $id, force: true) { archived } }',
      { id: used.id },
      world.org.auth,
    );
    expect(archived.data.archiveFlag.archived).toBe(true);
    const deleted = await graphql(
      server.url,
      'mutation($id: ID!) { deleteFlag(id: $id) { id } }',
      { id: unused.id },
      world.org.auth,
    );
    expect(deleted.errors).toBeUndefined();
  });

  it('lists stale flags: not evaluated for that long, or serving one variation to everyone', async () => {
    const project = await (async () => {
      const r = await graphql(
        server.url,
        'mutation { createProject(input: { name: "Stale" }) { id environments { id key } } }',
        {},
        world.org.auth,
      );
      return {
        id: r.data.createProject.id as string,
        env: Object.fromEntries(r.data.createProject.environments.map((e: any) => [e.key, e.id])) as Record<
          string,
          string
        >,
      };
    })();
    const key = await graphql(
      server.url,
      'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER, name: "stale") { value } }',
      { e: project.env.dev },
      world.org.auth,
    );
    const sdk = key.data.createSdkKey.value as string;
    const never = await givenFlag(server, world.org, project, { key: 'never-evaluated' });
    const single = await givenFlag(server, world.org, project, { key: 'always-false' });
    const split = await givenFlag(server, world.org, project, { key: 'still-split' });
    const young = await givenFlag(server, world.org, project, { key: 'brand-new' });
    for (const flag of [single, split, young]) {
      await givenState(server, world.org, flag.id, project.env.dev!, {
        on: true,
        targets: flag === split ? [{ variation: 0, values: ['alice'] }] : [],
        fallthrough: { variation: 1 },
      });
    }
    await snapshotsCaughtUp(server, [project.env.dev!]);
    for (const context of ['alice', 'zed']) {
      for (const flag of [single, split, young]) {
        const r = await request(server.url, 'POST', '/v1/evaluate', {
          body: { flag_key: flag.key, context: { key: context } },
          headers: { 'x-api-key': sdk },
        });
        expect(r.status).toBe(200);
      }
    }
    await server.app.sdkMetrics.flush();
    await server.sql(
      "update flags set created_at = now() - interval '10 days' where project_id = ? and key <> 'brand-new'",
      [project.id],
    );
    const r = await graphql(
      server.url,
      'query($p: ID!) { staleFlags(projectId: $p, days: 7) { total data { flag { key } reason servedVariation lastEvaluatedAt } } }',
      { p: project.id },
      world.org.auth,
    );
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data.staleFlags.total).toBe(2);
    expect(r.data.staleFlags.data).toEqual([
      {
        flag: { key: 'always-false' },
        reason: 'SINGLE_VARIATION',
        servedVariation: 1,
        lastEvaluatedAt: expect.any(String),
      },
      { flag: { key: 'never-evaluated' }, reason: 'NOT_EVALUATED', servedVariation: null, lastEvaluatedAt: null },
    ]);
    expect(never.key).toBe('never-evaluated');
  });
});

describe('the roll-up', () => {
  it('keeps counts and events older than two days per hour and older than 30 days per day, with the same sums', async () => {
    const env = world.dev.id;
    const threeDays = Date.now() - 3 * 86_400_000;
    const hourStart = Math.floor(threeDays / 3_600_000) * 3_600_000;
    // 90 minutes of minute rows three days ago, and hour rows 40 days ago across two days.
    for (let m = 0; m < 90; m++) {
      await server.sql(
        "insert into evaluation_counts (environment_id, flag_key, variation, minute, count) values (?, 'rolled', 0, to_timestamp(?), 2)",
        [env, (hourStart + m * 60_000) / 1000],
      );
    }
    const dayStart = Math.floor((Date.now() - 40 * 86_400_000) / 86_400_000) * 86_400_000;
    for (let h = 0; h < 48; h += 3) {
      await server.sql(
        "insert into evaluation_counts (environment_id, flag_key, variation, minute, count) values (?, 'rolled', 1, to_timestamp(?), 5)",
        [env, (dayStart + h * 3_600_000) / 1000],
      );
    }
    for (let i = 0; i < 4; i++) {
      await server.sql(
        "insert into tracked_events (environment_id, kind, event_key, value, context_key, occurred_at, received_at) values (?, 'custom', 'rolled-event', 2.5, 'x', to_timestamp(?), now())",
        [env, (hourStart + i * 20 * 60_000) / 1000],
      );
    }
    await server.app.jobs.send(METRICS_ROLLUP_QUEUE, {});
    // The roll-up runs its steps one after the other (counts, then events): wait for the last.
    const rows = await eventually(async () => {
      const found = await server.sql<{ variation: number; minute: string; count: string }>(
        "select variation, minute, count from evaluation_counts where flag_key = 'rolled' order by minute",
      );
      const [left] = await server.sql<{ n: number }>(
        "select count(*)::int as n from tracked_events where event_key = 'rolled-event'",
      );
      return found.length === 4 && left!.n === 0 ? found : null;
    }, 20_000);
    expect(rows!.map((r) => [r.variation, Date.parse(r.minute), Number(r.count)])).toEqual([
      [1, dayStart, 40],
      [1, dayStart + 86_400_000, 40],
      [0, hourStart, 120],
      [0, hourStart + 3_600_000, 60],
    ]);
    expect(await server.sql("select count(*)::int as n from tracked_events where event_key = 'rolled-event'")).toEqual([
      { n: 0 },
    ]);
    const events = await server.sql<{ bucket: string; count: string; value_sum: number }>(
      "select bucket, count, value_sum from tracked_event_counts where event_key = 'rolled-event' order by bucket",
    );
    expect(events.map((e) => [Date.parse(e.bucket), Number(e.count), e.value_sum])).toEqual([
      [hourStart, 3, 7.5],
      [hourStart + 3_600_000, 1, 2.5],
    ]);

    // What reads them sums the same.
    const r = await graphql(
      server.url,
      FLAG_METRICS,
      {
        p: world.project.id,
        from: new Date(dayStart).toISOString(),
        to: new Date().toISOString(),
        bucket: 'DAY',
        keys: ['rolled'],
      },
      world.org.auth,
    );
    expect(r.data.flagMetrics.series.map((s: { variation: number; total: number }) => [s.variation, s.total])).toEqual([
      [0, 180],
      [1, 80],
    ]);
  });
});
