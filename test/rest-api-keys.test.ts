import { beforeAll, describe, expect, it } from 'vitest';
import { rolesFor } from '../src/rest/plugin.js';
import { graphql, request } from './helpers/client.js';
import { givenFlag, givenState } from './helpers/flags.js';
import {
  type Call,
  expectEnvelope,
  forEveryRole,
  GROUPS,
  givenRestWorld,
  RFC3339_UTC,
  routeNamed,
  type Team,
} from './helpers/rest.js';
import { snapshotsCaughtUp } from './helpers/sdk.js';
import type { TestServer } from './helpers/server.js';
import { openSse } from './helpers/sse.js';

let server: TestServer;
let team: Team;
let call: Call;

beforeAll(async () => {
  ({ server, team, call } = await givenRestWorld());
});

const keysPath = (env = 'dev') => `/v1/environments/${team.env[env]}/api-keys`;

async function givenKey(env = 'dev', type = 'server') {
  const res = await call('POST', keysPath(env), team.org.auth, { name: `${type} key`, type });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; key: string; masked: string };
}
const evaluates = async (key: string) =>
  (
    await request(server.url, 'POST', '/v1/evaluate', {
      headers: { 'x-api-key': key },
      body: { flag_key: 'anything', context: { key: 'u' } },
    })
  ).status;
const keyRows = async (envId: string) =>
  (await server.sql('select id from sdk_keys where environment_id = ?', [envId])).length;

describe('the role table of the reference', () => {
  it('every role lists API keys (masked); owners and admins create, revoke and rotate them', () => {
    expect(rolesFor(routeNamed('listApiKeys'))).toEqual(GROUPS.read);
    for (const name of ['createApiKey', 'revokeApiKey', 'rotateApiKeys']) {
      expect(rolesFor(routeNamed(name)), name).toEqual(GROUPS.admin);
    }
  });
});

describe('API keys', () => {
  it('GET /v1/environments/{envId}/api-keys: every role, masked, with when each was last used, never a value', async () => {
    const made = await givenKey('staging');
    expect(await evaluates(made.key)).toBe(200);
    await server.app.keyCache.flushLastUsed();
    await forEveryRole(
      team,
      'listApiKeys',
      async () => undefined,
      (person) => call('GET', keysPath('staging'), person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({ total: 2, limit: 50, offset: 0, has_more: false });
        expect(res.body.data.map((k: { type: string }) => k.type)).toEqual(['client', 'server']);
        const key = res.body.data[1];
        expect(key).toMatchObject({ id: made.id, env_id: team.env.staging, name: 'server key', active: true });
        expect(key.masked).toMatch(/^vx_srv_…[A-Za-z0-9]{4}$/);
        expect(key.last_used_at).toMatch(RFC3339_UTC);
        expect(key.created_by).toMatchObject({ id: team.org.userId, email: team.org.email });
        expect(JSON.stringify(res.body)).not.toContain(made.key);
      },
    );
  });

  it('POST: owners and admins create a key shown once (it works at once); developers and viewers 403, no key', async () => {
    await forEveryRole(
      team,
      'createApiKey',
      () => keyRows(team.env.production!),
      (person) => call('POST', keysPath('production'), person.auth, { name: 'ci', type: 'mobile' }),
      async (_role, allowed, res, before) => {
        expect(await keyRows(team.env.production!)).toBe(before + (allowed ? 1 : 0));
        if (!allowed) return;
        expect(res.body).toMatchObject({ type: 'mobile', name: 'ci', env_id: team.env.production, active: true });
        expect(res.body.key).toMatch(/^vx_mob_/);
        expect(await evaluates(res.body.key)).toBe(200);
      },
    );
    const plain = await call('POST', keysPath(), team.org.auth, {});
    expect(plain.body).toMatchObject({ type: 'server', name: 'Server key' });
    expectEnvelope(
      await call('POST', keysPath(), team.org.auth, { type: 'client' }),
      400,
      'field "type" must be one of server, mobile',
    );
  });

  it('DELETE /v1/api-keys/{keyId}: owners and admins revoke (at once by default, or after grace_minutes); others 403 and the key works', async () => {
    await forEveryRole(
      team,
      'revokeApiKey',
      () => givenKey(),
      (person, key) => call('DELETE', `/v1/api-keys/${key.id}`, person.auth),
      async (_role, allowed, _res, key) => {
        expect(await evaluates(key.key)).toBe(allowed ? 401 : 200);
      },
    );
    const graced = await givenKey();
    expect((await call('DELETE', `/v1/api-keys/${graced.id}?grace_minutes=60`, team.org.auth)).status).toBe(204);
    expect(await evaluates(graced.key)).toBe(200);
    const listed = (await call('GET', `${keysPath()}?limit=100`, team.as.viewer.auth)).body.data.find(
      (k: { id: string }) => k.id === graced.id,
    );
    expect(listed.revoked_at).toMatch(RFC3339_UTC);
    expect(Date.parse(listed.expires_at) - Date.parse(listed.revoked_at)).toBe(60 * 60_000);
    expectEnvelope(await call('DELETE', `/v1/api-keys/${graced.id}?grace_minutes=7`, team.org.auth), 400, /grace/);
    expectEnvelope(
      await call('DELETE', `/v1/api-keys/${graced.id}?grace_minutes=soon`, team.org.auth),
      400,
      /grace_minutes/,
    );
  });

  it('POST …/api-keys/rotate: owners and admins replace every server key (new values shown once); others 403', async () => {
    await forEveryRole(
      team,
      'rotateApiKeys',
      () => givenKey('staging'),
      (person) => call('POST', `${keysPath('staging')}/rotate`, person.auth, { grace_minutes: 0 }),
      async (_role, allowed, res, old) => {
        expect(await evaluates(old.key)).toBe(allowed ? 401 : 200);
        if (!allowed) return;
        expect(res.body.data.length).toBeGreaterThan(0);
        for (const created of res.body.data) {
          expect(created.type).toBe('server');
          expect(await evaluates(created.key)).toBe(200);
        }
      },
    );
  });

  it('another organization finds none of it (404) and changes nothing', async () => {
    const key = await givenKey();
    const s = team.stranger.auth;
    expectEnvelope(await call('GET', keysPath(), s), 404, 'environment not found');
    expectEnvelope(await call('POST', keysPath(), s, { name: 'mine' }), 404);
    expectEnvelope(await call('POST', `${keysPath()}/rotate`, s, {}), 404);
    expectEnvelope(await call('DELETE', `/v1/api-keys/${key.id}`, s), 404, 'SDK key not found');
    expect(await evaluates(key.key)).toBe(200);
  });

  it('a key made through REST is listed the same through GraphQL', async () => {
    const made = await givenKey('production');
    const seen = await graphql(
      server.url,
      'query($e: ID!) { sdkKeys(environmentId: $e, limit: 100) { total data { id environmentId kind name masked active createdAt lastUsedAt revokedAt expiresAt } } }',
      { e: team.env.production },
      team.as.viewer.auth,
    );
    const rest = (await call('GET', `${keysPath('production')}?limit=100`, team.as.viewer.auth)).body;
    expect(seen.data.sdkKeys.total).toBe(rest.total);
    expect(
      rest.data.map((k: any) => ({
        id: k.id,
        environmentId: k.env_id,
        kind: k.type.toUpperCase(),
        name: k.name,
        masked: k.masked,
        active: k.active,
        createdAt: k.created_at,
        lastUsedAt: k.last_used_at,
        revokedAt: k.revoked_at,
        expiresAt: k.expires_at,
      })),
    ).toEqual(seen.data.sdkKeys.data);
    expect(rest.data.map((k: { id: string }) => k.id)).toContain(made.id);
  });
});

describe('{envKey}: the environment named by its key, with a server or mobile key of it', () => {
  it('/v1/client/{envKey}/flags answers for the key’s environment, and 404 for another environment', async () => {
    const project = { id: team.projectId, env: team.env };
    const serverSide = await givenFlag(server, team.org, project, { key: 'server-only' });
    const clientSide = await givenFlag(server, team.org, project, { key: 'in-browsers', clientSideAvailable: true });
    await givenState(server, team.org, serverSide.id, team.env.dev!, { on: true });
    await givenState(server, team.org, clientSide.id, team.env.dev!, { on: true });
    const serverKey = await givenKey('dev', 'server');
    const mobileKey = await givenKey('dev', 'mobile');
    const stagingKey = await givenKey('staging', 'server');
    await snapshotsCaughtUp(server, [team.env.dev!]);
    const flags = (path: string, key?: string) =>
      request(server.url, 'GET', `${path}?key=user-1`, { headers: key ? { 'x-api-key': key } : {} });

    const all = await flags('/v1/client/dev/flags', serverKey.key);
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    expect(Object.keys(all.body.flags).sort()).toEqual(['in-browsers', 'server-only']);
    const mobile = await flags('/v1/client/dev/flags', mobileKey.key);
    expect(Object.keys(mobile.body.flags)).toEqual(['in-browsers']);

    expectEnvelope(await flags('/v1/client/dev/flags', stagingKey.key), 404, 'environment not found for this key');
    expectEnvelope(
      await flags('/v1/client/production/flags', serverKey.key),
      404,
      'environment not found for this key',
    );
    expectEnvelope(await flags('/v1/client/dev/flags'), 401, 'API key is invalid');
    expectEnvelope(await flags('/v1/client/dev/flags', 'vx_srv_notakeyatall'), 401, 'API key is invalid');
    const envs = (await call('GET', '/v1/projects/default/environments', team.org.auth)).body.data;
    const devClientId = envs.find((e: { slug: string }) => e.slug === 'dev').client_side_id;
    expectEnvelope(await flags('/v1/client/dev/flags', devClientId), 401, 'API key is invalid');
    // The client-side ID in the path works as before.
    expect((await flags(`/v1/client/${devClientId}/flags`)).status).toBe(200);
  });

  it('/v1/stream/{envKey} streams the key’s environment, and answers 404 for another one', async () => {
    const serverKey = await givenKey('dev', 'server');
    const stagingKey = await givenKey('staging', 'server');
    const stream = await openSse(`${server.url}/v1/stream/dev`, { headers: { 'x-api-key': serverKey.key } });
    try {
      expect(stream.status).toBe(200);
      const put = await stream.next();
      expect(put.event).toBe('put');
      expect(put.json.version).toBeGreaterThan(0);
    } finally {
      stream.close();
    }
    const refused = await openSse(`${server.url}/v1/stream/dev`, { headers: { 'x-api-key': stagingKey.key } });
    expect(refused.status).toBe(404);
    expect(refused.body.error).toBe('environment not found for this key');
  });
});
