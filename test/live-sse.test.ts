import { beforeAll, describe, expect, it } from 'vitest';
import { graphql, request } from './helpers/client.js';
import { givenSdkKey } from './helpers/credentials.js';
import {
  givenFlag as createFlag,
  environmentVersions,
  type GivenFlag,
  type GivenProject,
  givenProject,
  givenState,
} from './helpers/flags.js';
import { type GivenOrg, givenOrg } from './helpers/givens.js';
import { snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { openSse } from './helpers/sse.js';
import { eventually } from './helpers/waiters.js';
import { subscribeWs } from './helpers/ws.js';

let server: TestServer;
let org: GivenOrg;
let project: GivenProject;
let serverKey: string;
let clientSideId: string;
beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  org = await givenOrg(server.url);
  project = await givenProject(server, org);
  serverKey = (await givenSdkKey(server.url, org, project.env['dev']!)).value;
  clientSideId = await clientSideIdOf('dev');
});

async function clientSideIdOf(envKey: string): Promise<string> {
  const r = await graphql(
    server.url,
    'query($id: ID!) { project(id: $id) { environments { key clientSideId } } }',
    { id: project.id },
    org.auth,
  );
  return r.data.project.environments.find((e: { key: string }) => e.key === envKey).clientSideId;
}

/** A flag the node's snapshots already hold, so its creation is not the first event a stream sees. */
async function givenFlag(input: Record<string, unknown> = {}): Promise<GivenFlag> {
  const flag = await createFlag(server, org, project, input);
  await snapshotsCaughtUp(server, Object.values(project.env));
  return flag;
}

const devVersion = async () => (await environmentVersions(server, [project.env['dev']!]))[project.env['dev']!]!;
const stream = (query = '', headers: Record<string, string> = {}) =>
  openSse(`${server.url}/v1/stream/${clientSideId}${query}`, { headers: { 'x-api-key': serverKey, ...headers } });
const setState = (flag: GivenFlag, input: Record<string, unknown>) =>
  givenState(server, org, flag.id, project.env['dev']!, input);

describe('SSE bridge, configuration mode (server key)', () => {
  it('sends a put of every flag at connect, with the environment version as id and streaming headers', async () => {
    const flag = await givenFlag({ kind: 'number', variations: [{ value: 1 }, { value: 2 }] });
    const s = await stream('', { 'accept-encoding': 'gzip, deflate' });
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(s.headers.get('cache-control')).toBe('no-store');
    expect(s.headers.get('x-accel-buffering')).toBe('no');
    expect(s.headers.get('content-encoding')).toBeNull();
    const put = await s.next();
    const version = await devVersion();
    expect(put.event).toBe('put');
    expect(put.id).toBe(String(version));
    expect(put.json.version).toBe(version);
    expect(put.json.flags[flag.key]).toMatchObject({
      definition: { key: flag.key, kind: 'number', variations: [{ value: 1 }, { value: 2 }] },
      state: { on: false },
    });
    expect(Array.isArray(put.json.segments)).toBe(true);
    s.close();
  });

  it('sends a patch when a flag changes and a delete when it is archived', async () => {
    const flag = await givenFlag();
    const s = await stream();
    expect((await s.next()).event).toBe('put');
    await setState(flag, { on: true });
    const patch = await s.next();
    const afterPatch = await devVersion();
    expect(patch).toMatchObject({ event: 'patch', id: String(afterPatch) });
    expect(patch.json).toMatchObject({
      key: flag.key,
      version: afterPatch,
      definition: { key: flag.key },
      state: { on: true },
    });

    const archived = await graphql(
      server.url,
      'mutation($id: ID!) { archiveFlag(id: $id) { id } }',
      { id: flag.id },
      org.auth,
    );
    expect(archived.errors).toBeUndefined();
    const deleted = await s.next();
    expect(deleted).toMatchObject({ event: 'delete', id: String(await devVersion()), json: { key: flag.key } });
    s.close();
  });

  it('replays a put to a Last-Event-ID older than the current version, and nothing to an up-to-date one', async () => {
    const flag = await givenFlag();
    const current = await devVersion();
    const behind = await stream('', { 'last-event-id': String(current - 1) });
    const put = await behind.next();
    expect(put).toMatchObject({ event: 'put', id: String(current) });
    behind.close();

    const upToDate = await stream('', { 'last-event-id': String(current) });
    expect(upToDate.status).toBe(200);
    await upToDate.expectNothing(300);
    await setState(flag, { on: true });
    // The first event it ever gets is the change, not a replay.
    const first = await upToDate.next();
    expect(first).toMatchObject({
      event: 'patch',
      id: String(current + 1),
      json: { key: flag.key, state: { on: true } },
    });
    expect(upToDate.events).toHaveLength(1);
    upToDate.close();

    // An id these streams never write is no id: `0x..` or `..e0` spelling the current version still get a put.
    const now = await devVersion();
    for (const id of [`0x${now.toString(16)}`, `${now}e0`, `${now}.0`]) {
      const odd = await stream('', { 'last-event-id': id });
      expect(await odd.next(), id).toMatchObject({ event: 'put', id: String(now) });
      odd.close();
    }
  });

  it('closes the stream when the key is revoked (grace 0)', async () => {
    const { value, key } = await givenSdkKey(server.url, org, project.env['dev']!);
    const s = await openSse(`${server.url}/v1/stream/${clientSideId}`, { headers: { 'x-api-key': value } });
    expect((await s.next()).event).toBe('put');
    const revoked = await graphql(
      server.url,
      'mutation($id: ID!) { revokeSdkKey(id: $id, graceMinutes: 0) { id } }',
      { id: key.id },
      org.auth,
    );
    expect(revoked.errors).toBeUndefined();
    await s.comment(/no longer valid/);
    await s.closed;
    expect(s.isClosed()).toBe(true);
    const again = await openSse(`${server.url}/v1/stream/${clientSideId}`, { headers: { 'x-api-key': value } });
    expect(again.status).toBe(401);
  });

  it('refuses a missing or unknown key', async () => {
    const none = await openSse(`${server.url}/v1/stream/vx_cs_unknown`);
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('API key is invalid');
  });
});

describe('SSE bridge, evaluated mode and client-side IDs', () => {
  it('sends a client-side ID only client-side flags, evaluated for the context given', async () => {
    const hidden = await givenFlag();
    const shown = await givenFlag({ clientSideAvailable: true });
    const s = await openSse(`${server.url}/v1/stream/${clientSideId}?key=alice`);
    expect(s.status).toBe(200);
    const put = await s.next();
    expect(put.event).toBe('put');
    expect(put.json.flags[shown.key]).toEqual({ value: false, variation: 1, reason: 'DISABLED' });
    expect(put.json.flags[hidden.key]).toBeUndefined();
    expect(put.json.flags[shown.key].definition).toBeUndefined();

    await setState(hidden, { on: true });
    await setState(shown, { on: true, fallthrough: { variation: 0 } });
    const patch = await s.next();
    // The hidden flag's change came first and sent nothing.
    expect(patch).toMatchObject({
      event: 'patch',
      json: { key: shown.key, value: true, variation: 0, reason: 'STATIC' },
    });
    expect(s.events).toHaveLength(2);
    s.close();
  });

  it("sends a patch only when the context's own value changes", async () => {
    const flag = await givenFlag();
    const context = Buffer.from(JSON.stringify({ key: 'alice', plan: 'pro' })).toString('base64url');
    const s = await stream(`?context=${context}`);
    expect((await s.next()).json.flags[flag.key]).toMatchObject({ reason: 'DISABLED' });
    await setState(flag, { on: true, targets: [{ variation: 0, values: ['bob'] }], fallthrough: { variation: 1 } });
    expect(await s.next()).toMatchObject({ event: 'patch', json: { key: flag.key, value: false, reason: 'DEFAULT' } });
    await setState(flag, { targets: [{ variation: 0, values: ['bob', 'carol'] }] });
    await setState(flag, {
      rules: [{ clauses: [{ attribute: 'plan', op: 'in', values: ['pro'] }], serve: { variation: 0 } }],
    });
    expect(await s.next()).toMatchObject({
      event: 'patch',
      json: { key: flag.key, value: true, reason: 'TARGETING_MATCH' },
    });
    expect(s.events).toHaveLength(3);
    s.close();
  });

  it('refuses a client-side ID without a context (it would expose targeting rules)', async () => {
    const s = await openSse(`${server.url}/v1/stream/${clientSideId}`);
    expect(s.status).toBe(403);
  });

  it("checks the browser origin against the client-side ID's allow-list", async () => {
    const set = await graphql(
      server.url,
      'mutation($e: ID!, $o: [String!]!) { setAuthorizedOrigins(environmentId: $e, origins: $o) { authorizedOrigins } }',
      { e: project.env['dev'], o: ['https://app.example.com'] },
      org.auth,
    );
    expect(set.errors).toBeUndefined();
    await eventually(
      async () =>
        (
          await openSse(`${server.url}/v1/stream/${clientSideId}?key=a`, {
            headers: { origin: 'https://evil.example.com' },
          })
        ).status === 403,
    );
    const refused = await openSse(`${server.url}/v1/stream/${clientSideId}?key=a`, {
      headers: { origin: 'https://evil.example.com' },
    });
    expect(refused.status).toBe(403);
    const allowed = await openSse(`${server.url}/v1/stream/${clientSideId}?key=a`, {
      headers: { origin: 'https://app.example.com' },
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect((await allowed.next()).event).toBe('put');
    allowed.close();
  });
});

describe('the LISTEN connection', () => {
  it('reconnects after being killed, and changes keep arriving', async () => {
    const flag = await givenFlag();
    const s = await stream();
    expect((await s.next()).event).toBe('put');
    const pid = server.app.changeBus.backendPid();
    expect(pid).toBeTypeOf('number');
    const [killed] = await server.sql<{ ok: boolean }>('select pg_terminate_backend(?) as ok', [pid]);
    expect(killed!.ok).toBe(true);
    // While it is down /readyz says so; the reconnect is quick, so this is best seen, not awaited.
    let sawNotReady = false;
    await eventually(
      async () => {
        const ready = await request(server.url, 'GET', '/readyz');
        if (ready.status === 503) {
          sawNotReady = true;
          expect(ready.body.error).toMatch(/LISTEN/);
        }
        return server.app.changeBus.connected && server.app.changeBus.backendPid() !== pid && ready.status === 200;
      },
      10_000,
      5,
    );
    expect(server.app.changeBus.backendPid()).not.toBe(pid);
    await setState(flag, { on: true });
    expect(await s.next(10_000)).toMatchObject({ event: 'patch', json: { key: flag.key, state: { on: true } } });
    s.close();
    console.info(`readyz reported 503 while the LISTEN connection was down: ${sawNotReady}`);
  });
});

describe('shutdown', () => {
  it('ends open SSE streams with a retry hint and WebSocket clients with 1001, so close() does not hang', async () => {
    const other = await startServer();
    const o = await givenOrg(other.url);
    const p = await givenProject(other, o);
    const key = (await givenSdkKey(other.url, o, p.env['dev']!)).value;
    const cs = (
      await graphql(
        other.url,
        'query($id: ID!) { project(id: $id) { environments { key clientSideId } } }',
        { id: p.id },
        o.auth,
      )
    ).data.project.environments[0].clientSideId;
    const sse = await openSse(`${other.url}/v1/stream/${cs}`, { headers: { 'x-api-key': key } });
    expect((await sse.next()).event).toBe('put');
    const ws = subscribeWs(other.url, o.auth, 'subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }', {
      p: p.id,
    });
    const yogaSse = await openSse(`${other.url}/graphql`, {
      method: 'POST',
      headers: { ...o.auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'subscription($p: ID!) { flagChanged(projectId: $p) { flagKey } }',
        variables: { p: p.id },
      }),
    });
    await eventually(() => other.app.hub.openStreams === 3);
    const started = Date.now();
    await other.close();
    console.info(`close() with three open streams took ${Date.now() - started} ms`);
    expect(Date.now() - started).toBeLessThan(2_000);
    await sse.closed;
    expect(sse.retries).toEqual([1000]);
    expect(await ws.closeCode).toBe(1001);
    await yogaSse.closed;
    expect(yogaSse.isClosed()).toBe(true);
  });
});
