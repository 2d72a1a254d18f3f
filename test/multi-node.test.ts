import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql, request } from './helpers/client.js';
import { givenSdkKey } from './helpers/credentials.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { type ServerProcess, startServerProcess } from './helpers/process.js';
import { givenDatabase } from './helpers/server.js';
import { openSse } from './helpers/sse.js';
import { eventually } from './helpers/waiters.js';
import { subscribeWs } from './helpers/ws.js';

/**
 * Two real server processes on one database, as behind a load balancer: a change made through
 * node A reaches node B's subscribers and evaluations through PostgreSQL LISTEN/NOTIFY alone.
 */
const env = (databaseUrl: string) => ({
  DATABASE_URL: databaseUrl,
  JWT_SECRET: 'multi-node-test-secret-0123456789',
  AUTH_RATE_LIMIT: '10000',
  MANAGEMENT_RATE_LIMIT: '10000',
  EVALUATION_RATE_LIMIT: '100000',
});

let a: ServerProcess;
let b: ServerProcess;
let org: GivenOrg;
beforeAll(async () => {
  const databaseUrl = await givenDatabase();
  [a, b] = await Promise.all([startServerProcess(env(databaseUrl)), startServerProcess(env(databaseUrl))]);
  org = await givenOrg(a.url);
}, 120_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('two nodes sharing one database', () => {
  it("a change through node A reaches a graphql-ws and an SSE subscriber on node B, and B's evaluations", async () => {
    const project = await graphql(
      a.url,
      '{ project(slug: "default") { id environments { id key clientSideId } } }',
      {},
      org.auth,
    );
    const projectId: string = project.data.project.id;
    const dev = project.data.project.environments.find((e: { key: string }) => e.key === 'dev');
    const created = await graphql(
      a.url,
      'mutation($p: ID!) { createFlag(projectId: $p, input: { key: "multi-node", kind: boolean }) { id } }',
      { p: projectId },
      org.auth,
    );
    expect(created.errors).toBeUndefined();
    const { value: serverKey } = await givenSdkKey(a.url, org, dev.id);

    // Node B learns of the new key and flag through the bus; wait until it evaluates the flag.
    const evaluateOnB = () =>
      request(b.url, 'POST', '/v1/evaluate', {
        body: { flag_key: 'multi-node', context: { key: 'u1' } },
        headers: { 'x-api-key': serverKey },
      });
    await eventually(async () => (await evaluateOnB()).body?.reason === 'DISABLED', 10_000);

    const ws = subscribeWs(
      b.url,
      org.auth,
      'subscription($p: ID!) { flagChanged(projectId: $p, environmentKeys: ["dev"]) { flagKey kind version state { on } changedBy { userId } } }',
      { p: projectId },
    );
    const sse = await openSse(`${b.url}/v1/stream/${dev.clientSideId}`, { headers: { 'x-api-key': serverKey } });
    expect((await sse.next()).event).toBe('put');
    const flagId: string = created.data.createFlag.id;
    let on = false;
    const toggle = async () => {
      on = !on;
      const state = await graphql(
        a.url,
        '{ project(slug: "default") { flag(key: "multi-node") { state(environmentKey: "dev") { version } } } }',
        {},
        org.auth,
      );
      const changed = await graphql(
        a.url,
        'mutation($f: ID!, $e: ID!, $v: Int!, $on: Boolean!) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: $v, input: { on: $on }) { version } }',
        { f: flagId, e: dev.id, v: state.data.project.flag.state.version, on },
        org.auth,
      );
      expect(changed.errors).toBeUndefined();
    };
    // graphql-ws has no per-operation ack: until node B has registered the subscription a change
    // would pass it by, so change until one arrives (bounded), then assert on the next one.
    await eventually(async () => ws.results.length > 0 || void (await toggle()), 10_000, 300);
    const seen = ws.results.length;
    const patchesBefore = sse.events.length;
    await toggle();
    const expected = on;

    const patch = await eventually(
      () => sse.events.slice(patchesBefore).find((e) => e.event === 'patch' && e.json.state.on === expected),
      10_000,
    );
    expect(patch!.json).toMatchObject({ key: 'multi-node', definition: { key: 'multi-node' } });
    const event = await eventually(
      () => ws.results.slice(seen).find((r) => r.data?.flagChanged?.state?.on === expected),
      10_000,
    );
    expect(event!.data.flagChanged).toMatchObject({
      flagKey: 'multi-node',
      kind: 'STATE',
      changedBy: { userId: org.userId },
      version: Number(patch!.id),
    });
    await eventually(async () => (await evaluateOnB()).body?.value === expected, 10_000);
    sse.close();
    await ws.dispose();
  });

  it('exits 0 within 10 s on SIGTERM with open streams, telling clients to reconnect', async () => {
    const project = await graphql(
      b.url,
      '{ project(slug: "default") { id environments { id key clientSideId } } }',
      {},
      org.auth,
    );
    const dev = project.data.project.environments.find((e: { key: string }) => e.key === 'dev');
    const { value: serverKey } = await givenSdkKey(b.url, org, dev.id);
    await eventually(
      async () =>
        (await openSse(`${b.url}/v1/stream/${dev.clientSideId}`, { headers: { 'x-api-key': serverKey } })).status ===
        200,
      10_000,
    );
    const sse = await openSse(`${b.url}/v1/stream/${dev.clientSideId}`, { headers: { 'x-api-key': serverKey } });
    expect((await sse.next()).event).toBe('put');
    const ws = subscribeWs(b.url, org.auth, 'subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }', {
      p: project.data.project.id,
    });
    // An upgrade still being checked (rate limit) when the server closes is refused, not opened.
    await ws.connected;
    await eventually(async () => (await request(b.url, 'GET', '/readyz')).status === 200);
    const started = Date.now();
    const code = await b.stop();
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    await sse.closed;
    expect(sse.retries.length).toBe(1);
    expect(await ws.closeCode).toBe(1001);
    // Node A is unaffected.
    expect((await request(a.url, 'GET', '/readyz')).status).toBe(200);
  });
});
