import { beforeAll, describe, expect, it } from 'vitest';
import { graphql, request } from './helpers/client.js';
import { environmentVersions, givenState } from './helpers/flags.js';
import { b64url, givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';
import { eventuallyPasses } from './helpers/waiters.js';

let server: TestServer;
let world: SdkWorld;
let beta: { id: string; key: string };

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
  beta = await givenDevFlag(
    server,
    world,
    { key: 'beta-ui', clientSideAvailable: true },
    {
      on: true,
      rules: [{ id: 'plan', clauses: [{ attribute: 'plan', op: 'in', values: ['pro'] }], serve: { variation: 0 } }],
      fallthrough: { variation: 1 },
    },
  );
  await givenDevFlag(
    server,
    world,
    { key: 'server-secret', clientSideAvailable: false },
    { on: true, fallthrough: { variation: 0 } },
  );
  await snapshotsCaughtUp(server, [world.dev.id]);
});

const clientFlags = (query = '', headers: Record<string, string> = {}, envKey = world.dev.clientSideId) =>
  request(server.url, 'GET', `/v1/client/${envKey}/flags${query}`, { headers });
const datafile = (key: string, headers: Record<string, string> = {}) =>
  request(server.url, 'GET', '/v1/datafile', { headers: { 'x-api-key': key, ...headers } });

describe('GET /v1/client/:envKey/flags', () => {
  it('with the client-side ID serves only client-side-available flags, with the environment version', async () => {
    const res = await clientFlags('?key=user-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const versions = await environmentVersions(server, [world.dev.id]);
    expect(res.body).toEqual({
      flags: { 'beta-ui': { value: false, variation: 1, reason: 'DEFAULT', version: 2 } },
      version: versions[world.dev.id],
    });
  });

  it('takes a whole context as base64url JSON', async () => {
    const res = await clientFlags(`?context=${b64url({ key: 'user-2', plan: 'pro' })}`);
    expect(res.body.flags['beta-ui']).toEqual({
      value: true,
      variation: 0,
      reason: 'TARGETING_MATCH',
      rule_id: 'plan',
      version: 2,
    });
  });

  it('with a server key of the same environment serves every flag; a mobile key only client-side ones', async () => {
    const all = await clientFlags('?key=u', { 'x-api-key': world.dev.server });
    expect(Object.keys(all.body.flags).sort()).toEqual(['beta-ui', 'server-secret']);
    const mobile = await clientFlags('?key=u', { 'x-api-key': world.dev.mobile });
    expect(Object.keys(mobile.body.flags)).toEqual(['beta-ui']);
  });

  it('refuses bad contexts with a 400 envelope', async () => {
    const cases: [string, RegExp][] = [
      ['?context=***', /not base64url/],
      [`?context=${Buffer.from('{not json').toString('base64url')}`, /not base64url-encoded JSON/],
      [`?context=${b64url(['array'])}`, /context must be a JSON object/],
      [`?context=${b64url({ key: 5 })}`, /context.key must be a string/],
      [`?context=${b64url({ key: 'a' })}&key=b`, /either "context" or "key"/],
      ['?key=a&key=b', /key/],
    ];
    for (const [query, message] of cases) {
      const res = await clientFlags(query);
      expect(res.status, query).toBe(400);
      expect(res.body.error).toMatch(message);
      expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
    }
  });

  it('checks the browser origin against the allow-list and answers CORS headers', async () => {
    const set = await graphql(
      server.url,
      'mutation($e: ID!, $o: [String!]!) { setAuthorizedOrigins(environmentId: $e, origins: $o) { authorizedOrigins } }',
      { e: world.dev.id, o: ['https://app.example.com'] },
      world.org.auth,
    );
    expect(set.errors).toBeUndefined();
    await eventuallyPasses(async () =>
      expect((await clientFlags('?key=u', { origin: 'https://evil.example.net' })).status).toBe(403),
    );
    const ok = await clientFlags('?key=u', { origin: 'https://app.example.com' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(Object.keys(ok.body.flags)).toEqual(['beta-ui']);
  });

  it('answers 401 for an unknown client-side ID and 403 for a server key of another environment', async () => {
    expect((await clientFlags('', {}, 'vx_cs_nothing')).status).toBe(401);
    const { givenSdkKey } = await import('./helpers/credentials.js');
    const other = await givenSdkKey(server.url, world.org, world.envs.production!.id);
    expect((await clientFlags('', { 'x-api-key': other.value })).status).toBe(403);
  });
});

describe('a brand-new environment', () => {
  it('is loaded on its first SDK request when no change has reached this node yet', async () => {
    const fresh = await givenSdkWorld(server);
    const res = await request(server.url, 'POST', '/v1/evaluate/bulk', {
      body: {},
      headers: { 'x-api-key': fresh.dev.server },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ flags: {}, version: (await environmentVersions(server, [fresh.dev.id]))[fresh.dev.id] });
    expect(server.app.snapshots.get(fresh.dev.id)).toBeDefined();
  });
});

describe('GET /v1/datafile', () => {
  it('serves the environment data with a strong ETag; If-None-Match answers 304 with no body', async () => {
    await snapshotsCaughtUp(server, [world.dev.id]);
    const res = await datafile(world.dev.server);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const etag = res.headers.get('etag')!;
    const versions = await environmentVersions(server, [world.dev.id]);
    expect(etag).toBe(`"${world.dev.id}.${versions[world.dev.id]}"`);
    expect(res.body.version).toBe(versions[world.dev.id]);
    expect(res.body.segments).toEqual([]);
    const keys = res.body.flags.map((f: { definition: { key: string } }) => f.definition.key).sort();
    expect(keys).toEqual(['beta-ui', 'server-secret']);
    const betaFlag = res.body.flags.find((f: { definition: { key: string } }) => f.definition.key === 'beta-ui');
    expect(betaFlag.state).toMatchObject({ on: true, offVariation: 1, fallthrough: { variation: 1 }, version: 2 });
    expect(betaFlag.state.rules[0]).toMatchObject({
      id: 'plan',
      clauses: [{ attribute: 'plan', op: 'in', values: ['pro'] }],
    });

    const unchanged = await datafile(world.dev.mobile, { 'if-none-match': etag });
    expect(unchanged.status).toBe(304);
    expect(unchanged.body).toBeUndefined();
    expect(unchanged.headers.get('etag')).toBe(etag);
    expect((await datafile(world.dev.server, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
    expect((await datafile(world.dev.server, { 'if-none-match': '"stale"' })).status).toBe(200);
  });

  it('gets a new ETag and body after a change', async () => {
    const before = (await datafile(world.dev.server)).headers.get('etag')!;
    await givenState(server, world.org, beta.id, world.dev.id, { fallthrough: { variation: 0 } });
    const changed = await eventuallyPasses(async () => {
      const res = await datafile(world.dev.server, { 'if-none-match': before });
      expect(res.status).toBe(200);
      return res;
    });
    expect(changed.headers.get('etag')).not.toBe(before);
    const betaFlag = changed.body.flags.find((f: { definition: { key: string } }) => f.definition.key === 'beta-ui');
    expect(betaFlag.state.fallthrough).toEqual({ variation: 0 });
  });

  it('refuses client-side IDs (403) and missing keys (401)', async () => {
    const client = await datafile(world.dev.clientSideId);
    expect(client.status).toBe(403);
    expect(client.body.error).toMatch(/client-side ID/);
    expect((await request(server.url, 'GET', '/v1/datafile')).status).toBe(401);
  });
});
