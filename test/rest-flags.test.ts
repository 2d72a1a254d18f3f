import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { rolesFor } from '../src/rest/plugin.js';
import { graphql } from './helpers/client.js';
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
import type { TestServer } from './helpers/server.js';

let server: TestServer;
let team: Team;
let call: Call;
const hex = () => randomBytes(3).toString('hex');

beforeAll(async () => {
  ({ server, team, call } = await givenRestWorld());
});

const flagsPath = () => `/v1/projects/${team.projectId}/flags`;

async function givenFlag(body: Record<string, unknown> = {}) {
  const res = await call('POST', flagsPath(), team.org.auth, { key: `flag-${hex()}`, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; key: string };
}
async function stateOf(flagKey: string, env = 'dev') {
  const res = await call('GET', `${flagsPath()}/${flagKey}/environments/${team.env[env]}`, team.org.auth);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}
const storedState = async (flagId: string, env = 'dev') =>
  (
    await server.sql<{ on: boolean; version: number; rules: unknown[] }>(
      'select "on", version, rules from flag_states where flag_id = ? and environment_id = ?',
      [flagId, team.env[env]],
    )
  )[0]!;

describe('the role table of the reference', () => {
  it('reading is for every role; creating, changing, deleting, promoting and killing flags for developers and up', () => {
    for (const name of ['listFlags', 'getFlag', 'getFlagState'])
      expect(rolesFor(routeNamed(name))).toEqual(GROUPS.read);
    for (const name of ['createFlag', 'updateFlag', 'deleteFlag', 'updateFlagState', 'promoteFlag', 'killFlag']) {
      expect(rolesFor(routeNamed(name)), name).toEqual(GROUPS.write);
    }
  });
});

describe('flags', () => {
  it('GET /v1/projects/{id}/flags: every role, with the filters of GraphQL (tag, archived, search) and paging', async () => {
    const tag = `t${hex()}`;
    const a = await givenFlag({ tags: [tag], description: 'the checkout flow' });
    const b = await givenFlag({ tags: [tag] });
    const archived = await givenFlag({ tags: [tag] });
    const gone = await graphql(
      server.url,
      'mutation($id: ID!) { archiveFlag(id: $id) { id } }',
      { id: archived.id },
      team.org.auth,
    );
    expect(gone.errors).toBeUndefined();
    await forEveryRole(
      team,
      'listFlags',
      async () => undefined,
      (person) => call('GET', `${flagsPath()}?tag=${tag}&limit=1`, person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({ total: 2, limit: 1, offset: 0, has_more: true });
        expect(res.body.data[0].key).toBe([a.key, b.key].sort()[0]);
      },
    );
    const keys = async (query: string) =>
      (await call('GET', `/v1/projects/default/flags?${query}`, team.as.viewer.auth)).body.data.map(
        (f: { key: string }) => f.key,
      );
    expect(await keys(`tag=${tag}&archived=true`)).toEqual([archived.key]);
    expect((await keys(`tag=${tag}&archived=all`)).sort()).toEqual([a.key, b.key, archived.key].sort());
    expect(await keys(`tag=${tag}&search=CHECKOUT`)).toEqual([a.key]);
    expect(await keys(`tag=${tag}&offset=1`)).toEqual([[a.key, b.key].sort()[1]]);
  });

  it('GET /v1/projects/{id}/flags/{key}: every role, in the reference’s names', async () => {
    const flag = await givenFlag({ tags: ['web'], client_side_available: true });
    await forEveryRole(
      team,
      'getFlag',
      async () => undefined,
      (person) => call('GET', `/v1/projects/default/flags/${flag.key}`, person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({
          id: flag.id,
          key: flag.key,
          name: flag.key,
          description: '',
          flag_type: 'boolean',
          variations: [
            { value: true, name: null },
            { value: false, name: null },
          ],
          tags: ['web'],
          client_side_available: true,
          temporary: true,
          archived: false,
          archived_at: null,
        });
        expect(res.body.updated_at).toMatch(RFC3339_UTC);
      },
    );
    expectEnvelope(
      await call('GET', `${flagsPath()}/no-such-flag`, team.org.auth),
      404,
      'flag "no-such-flag" not found',
    );
  });

  it('POST /v1/projects/{id}/flags: developers and up create (flag_type defaults to boolean); viewers 403, no row', async () => {
    await forEveryRole(
      team,
      'createFlag',
      async () => `made-${hex()}`,
      (person, key) =>
        call('POST', flagsPath(), person.auth, {
          key,
          name: 'Made',
          flag_type: 'string',
          variations: [{ value: 'a', name: 'A' }, { value: 'b' }],
        }),
      async (_role, allowed, res, key) => {
        const rows = await server.sql('select id from flags where key = ?', [key]);
        expect(rows.length).toBe(allowed ? 1 : 0);
        if (allowed) {
          expect(res.body).toMatchObject({ key, name: 'Made', flag_type: 'string' });
          expect(res.body.variations).toEqual([
            { value: 'a', name: 'A' },
            { value: 'b', name: null },
          ]);
        }
      },
    );
    const plain = await givenFlag();
    expect((await call('GET', `${flagsPath()}/${plain.key}`, team.org.auth)).body.flag_type).toBe('boolean');
    expectEnvelope(await call('POST', flagsPath(), team.org.auth, { key: plain.key }), 409);
    expectEnvelope(
      await call('POST', flagsPath(), team.org.auth, { key: 'x', flag_type: 'colour' }),
      400,
      'field "flag_type" must be one of boolean, string, number, json',
    );
  });

  it('PUT /v1/projects/{id}/flags/{key}: developers and up change the fields given; viewers 403, unchanged', async () => {
    await forEveryRole(
      team,
      'updateFlag',
      () => givenFlag({ description: 'before' }),
      (person, flag) =>
        call('PUT', `${flagsPath()}/${flag.key}`, person.auth, { name: 'Renamed', tags: ['a', 'b'], temporary: false }),
      async (_role, allowed, res, flag) => {
        const [row] = await server.sql<{ name: string; description: string }>(
          'select name, description from flags where id = ?',
          [flag.id],
        );
        expect(row).toEqual({ name: allowed ? 'Renamed' : flag.key, description: 'before' });
        if (allowed) expect(res.body).toMatchObject({ name: 'Renamed', tags: ['a', 'b'], temporary: false });
      },
    );
  });

  it('DELETE /v1/projects/{id}/flags/{key}: developers delete flags too (204); viewers 403 and the flag stays', async () => {
    await forEveryRole(
      team,
      'deleteFlag',
      () => givenFlag(),
      (person, flag) => call('DELETE', `/v1/projects/default/flags/${flag.key}`, person.auth),
      async (_role, allowed, _res, flag) => {
        expect((await server.sql('select id from flags where id = ?', [flag.id])).length).toBe(allowed ? 0 : 1);
      },
    );
  });

  it('a flag that is a prerequisite of another is not deleted (409 naming it)', async () => {
    const parent = await givenFlag();
    const child = await givenFlag();
    const set = await call('PUT', `${flagsPath()}/${child.key}/environments/${team.env.dev}`, team.org.auth, {
      version: 1,
      prerequisites: [{ key: parent.key, variation: 0 }],
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const refused = await call('DELETE', `${flagsPath()}/${parent.key}`, team.as.developer.auth);
    expectEnvelope(refused, 409, new RegExp(child.key));
    expect(refused.body.details).toEqual({ flags: [child.key] });
  });
});

describe('flag state per environment', () => {
  it('GET …/environments/{envId}: every role reads the targeting in snake_case', async () => {
    const flag = await givenFlag();
    await forEveryRole(
      team,
      'getFlagState',
      async () => undefined,
      (person) => call('GET', `${flagsPath()}/${flag.key}/environments/${team.env.staging}`, person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({
          env_id: team.env.staging,
          enabled: false,
          off_variation: 1,
          targets: [],
          rules: [],
          fallthrough: { variation: 0, rollout: null },
          prerequisites: [],
          version: 1,
        });
        expect(res.body.updated_at).toMatch(RFC3339_UTC);
      },
    );
  });

  it('PUT …/environments/{envId}: developers and up change it at the version they read; viewers 403', async () => {
    await forEveryRole(
      team,
      'updateFlagState',
      () => givenFlag(),
      (person, flag) =>
        call('PUT', `${flagsPath()}/${flag.key}/environments/${team.env.dev}`, person.auth, {
          version: 1,
          enabled: true,
          targets: [{ variation: 0, values: ['user-1'] }],
          rules: [
            {
              description: 'Dutch',
              clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }],
              serve: {
                rollout: {
                  variations: [
                    { variation: 0, weight: 60000 },
                    { variation: 1, weight: 40000 },
                  ],
                  bucket_by: 'org',
                },
              },
            },
          ],
        }),
      async (_role, allowed, res, flag) => {
        const stored = await storedState(flag.id);
        expect(stored.on).toBe(allowed);
        expect(stored.version).toBe(allowed ? 2 : 1);
        if (!allowed) return;
        expect(res.body).toMatchObject({ enabled: true, version: 2, targets: [{ variation: 0, values: ['user-1'] }] });
        expect(res.body.rules).toEqual([
          {
            id: expect.any(String),
            description: 'Dutch',
            clauses: [{ attribute: 'country', operator: 'in', values: ['NL'], negate: false }],
            serve: {
              variation: null,
              rollout: {
                variations: [
                  { variation: 0, weight: 60000 },
                  { variation: 1, weight: 40000 },
                ],
                bucket_by: 'org',
                salt: null,
              },
            },
          },
        ]);
      },
    );
  });

  it('a stale version is refused with 409 and changes nothing; a missing version is a 400', async () => {
    const flag = await givenFlag();
    const path = `${flagsPath()}/${flag.key}/environments/${team.env.dev}`;
    expect((await call('PUT', path, team.org.auth, { version: 1, enabled: true })).status).toBe(200);
    const stale = await call('PUT', path, team.as.developer.auth, { version: 1, enabled: false });
    expectEnvelope(stale, 409, /version 2, not 1/);
    expect(stale.body.details).toEqual({ currentVersion: 2 });
    expect(await storedState(flag.id)).toMatchObject({ on: true, version: 2 });
    expectEnvelope(await call('PUT', path, team.org.auth, { enabled: false }), 400, 'field "version" is required');
    const invalid = await call('PUT', path, team.org.auth, { version: 2, off_variation: 7 });
    expectEnvelope(invalid, 400);
    expect(await storedState(flag.id)).toMatchObject({ on: true, version: 2 });
  });

  it('an environment of another project is not found', async () => {
    const other = await call('POST', '/v1/projects', team.org.auth, { name: `Other ${hex()}` });
    const otherEnv = (await call('GET', `/v1/projects/${other.body.id}/environments`, team.org.auth)).body.data[0].id;
    const flag = await givenFlag();
    expectEnvelope(await call('GET', `${flagsPath()}/${flag.key}/environments/${otherEnv}`, team.org.auth), 404);
    expectEnvelope(
      await call('PUT', `${flagsPath()}/${flag.key}/environments/${otherEnv}`, team.org.auth, {
        version: 1,
        enabled: true,
      }),
      404,
    );
  });

  it('POST …/promote: developers and up copy the targeting (source_env_id → target_env_id); viewers 403', async () => {
    await forEveryRole(
      team,
      'promoteFlag',
      async () => {
        const flag = await givenFlag();
        const set = await call('PUT', `${flagsPath()}/${flag.key}/environments/${team.env.dev}`, team.org.auth, {
          version: 1,
          enabled: true,
          targets: [{ variation: 1, values: ['qa'] }],
        });
        expect(set.status).toBe(200);
        return flag;
      },
      (person, flag) =>
        call('POST', `${flagsPath()}/${flag.key}/promote`, person.auth, {
          source_env_id: team.env.dev,
          target_env_id: team.env.production,
        }),
      async (_role, allowed, res, flag) => {
        expect((await storedState(flag.id, 'production')).on).toBe(allowed);
        if (allowed) {
          expect(res.body).toMatchObject({ env_id: team.env.production, enabled: true, version: 2 });
          expect(res.body.targets).toEqual([{ variation: 1, values: ['qa'] }]);
        }
      },
    );
  });

  it('POST …/kill: developers and up turn it off at once; viewers 403 and it stays on', async () => {
    await forEveryRole(
      team,
      'killFlag',
      async () => {
        const flag = await givenFlag();
        await call('PUT', `${flagsPath()}/${flag.key}/environments/${team.env.production}`, team.org.auth, {
          version: 1,
          enabled: true,
        });
        return flag;
      },
      (person, flag) => call('POST', `${flagsPath()}/${flag.key}/kill`, person.auth, { env_id: team.env.production }),
      async (_role, allowed, res, flag) => {
        expect((await storedState(flag.id, 'production')).on).toBe(!allowed);
        if (allowed) expect(res.body).toMatchObject({ env_id: team.env.production, enabled: false });
      },
    );
  });
});

describe('another organization', () => {
  it('finds none of the flag routes (404, never 403) and changes nothing', async () => {
    const flag = await givenFlag();
    const s = team.stranger.auth;
    const base = `${flagsPath()}/${flag.key}`;
    const state = `${base}/environments/${team.env.dev}`;
    for (const [method, path, body] of [
      ['GET', flagsPath()],
      ['GET', base],
      ['POST', flagsPath(), { key: 'mine' }],
      ['PUT', base, { name: 'mine' }],
      ['DELETE', base],
      ['GET', state],
      ['PUT', state, { version: 1, enabled: true }],
      ['POST', `${base}/promote`, { source_env_id: team.env.dev, target_env_id: team.env.staging }],
      ['POST', `${base}/kill`, { env_id: team.env.dev }],
    ] as const) {
      expectEnvelope(await call(method, path, s, body), 404, /not found/);
    }
    const [row] = await server.sql<{ name: string }>('select name from flags where id = ?', [flag.id]);
    expect(row?.name).toBe(flag.key);
    expect(await storedState(flag.id)).toMatchObject({ on: false, version: 1 });
  });
});

describe('REST and GraphQL see the same change', () => {
  const STATE = `query($p: ID!, $k: String!, $e: ID!) { project(id: $p) { flag(key: $k) {
    environmentState(environmentId: $e) {
      environmentId on offVariation version updatedAt targets { variation values }
      rules { id description clauses { attribute op values negate } serve { variation rollout { variations { variation weight } bucketBy salt } } }
      fallthrough { variation rollout { variations { variation weight } bucketBy salt } }
      prerequisites { key variation }
    } } } }`;
  const asGraphql = (s: any) => ({
    environmentId: s.env_id,
    on: s.enabled,
    offVariation: s.off_variation,
    version: s.version,
    updatedAt: s.updated_at,
    targets: s.targets,
    rules: s.rules.map((r: any) => ({
      id: r.id,
      description: r.description,
      clauses: r.clauses.map((c: any) => ({
        attribute: c.attribute,
        op: c.operator,
        values: c.values,
        negate: c.negate,
      })),
      serve: asServe(r.serve),
    })),
    fallthrough: asServe(s.fallthrough),
    prerequisites: s.prerequisites,
  });
  const asServe = (s: any) => ({
    variation: s.variation,
    rollout: s.rollout && { variations: s.rollout.variations, bucketBy: s.rollout.bucket_by, salt: s.rollout.salt },
  });

  it('a state changed through REST reads the same through GraphQL, and the next change through GraphQL the same through REST', async () => {
    const flag = await givenFlag();
    const path = `${flagsPath()}/${flag.key}/environments/${team.env.dev}`;
    const viaRest = await call('PUT', path, team.as.developer.auth, {
      version: 1,
      enabled: true,
      rules: [
        { clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'], negate: true }], serve: { variation: 1 } },
      ],
      fallthrough: { rollout: { variations: [{ variation: 0, weight: 100000 }], salt: 's' } },
    });
    expect(viaRest.status, JSON.stringify(viaRest.body)).toBe(200);
    const read = await graphql(
      server.url,
      STATE,
      { p: team.projectId, k: flag.key, e: team.env.dev },
      team.as.viewer.auth,
    );
    expect(read.data.project.flag.environmentState).toEqual(asGraphql(viaRest.body));

    const viaGraphql = await graphql(
      server.url,
      `mutation($p: ID!, $k: String!, $e: ID!) {
        updateFlagState(projectId: $p, flagKey: $k, environmentId: $e, expectedVersion: 2, input: { on: false, targets: [{ variation: 0, values: ["x"] }] }) { version }
      }`,
      { p: team.projectId, k: flag.key, e: team.env.dev },
      team.org.auth,
    );
    expect(viaGraphql.errors).toBeUndefined();
    const again = await graphql(server.url, STATE, { p: team.projectId, k: flag.key, e: team.env.dev }, team.org.auth);
    expect(asGraphql(await stateOf(flag.key))).toEqual(again.data.project.flag.environmentState);

    const deleted = await graphql(
      server.url,
      'mutation($p: ID!, $k: String!) { deleteFlag(projectId: $p, key: $k) { key } }',
      { p: team.projectId, k: flag.key },
      team.as.developer.auth,
    );
    expect(deleted.data.deleteFlag.key).toBe(flag.key);
    expectEnvelope(await call('GET', `${flagsPath()}/${flag.key}`, team.org.auth), 404);
  });
});
