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

const segmentsPath = () => `/v1/projects/${team.projectId}/segments`;
const RULE = { clauses: [{ attribute: 'email', operator: 'endsWith', values: ['@example.com'] }] };

async function givenSegment(body: Record<string, unknown> = {}) {
  const res = await call('POST', segmentsPath(), team.org.auth, { key: `seg-${hex()}`, included: ['alice'], ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; key: string; version: number };
}
const segmentRow = async (id: string) =>
  (await server.sql<{ name: string; version: number }>('select name, version from segments where id = ?', [id]))[0];

describe('the role table of the reference', () => {
  it('every role reads segments; developers and up write and delete them', () => {
    expect(rolesFor(routeNamed('listSegments'))).toEqual(GROUPS.read);
    expect(rolesFor(routeNamed('getSegment'))).toEqual(GROUPS.read);
    for (const name of ['createSegment', 'updateSegment', 'deleteSegment']) {
      expect(rolesFor(routeNamed(name)), name).toEqual(GROUPS.write);
    }
  });
});

describe('segments', () => {
  it('GET /v1/projects/{id}/segments and …/{key}: every role, in key order, paged', async () => {
    const a = await givenSegment({ key: `a-${hex()}`, rules: [RULE] });
    await givenSegment({ key: `b-${hex()}` });
    await forEveryRole(
      team,
      'listSegments',
      async () => undefined,
      (person) => call('GET', `/v1/projects/default/segments?limit=1`, person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({ limit: 1, offset: 0, has_more: true });
        expect(res.body.data).toHaveLength(1);
      },
    );
    await forEveryRole(
      team,
      'getSegment',
      async () => undefined,
      (person) => call('GET', `${segmentsPath()}/${a.key}`, person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({
          id: a.id,
          key: a.key,
          name: a.key,
          included: ['alice'],
          excluded: [],
          version: 1,
        });
        expect(res.body.rules).toEqual([
          {
            id: expect.any(String),
            clauses: [{ attribute: 'email', operator: 'endsWith', values: ['@example.com'], negate: false }],
          },
        ]);
      },
    );
    expectEnvelope(await call('GET', `${segmentsPath()}/nope`, team.org.auth), 404, 'segment "nope" not found');
  });

  it('POST: developers and up create; viewers 403 and no row', async () => {
    await forEveryRole(
      team,
      'createSegment',
      async () => `made-${hex()}`,
      (person, key) => call('POST', segmentsPath(), person.auth, { key, name: 'Staff', rules: [RULE] }),
      async (_role, allowed, res, key) => {
        expect((await server.sql('select id from segments where key = ?', [key])).length).toBe(allowed ? 1 : 0);
        if (allowed) expect(res.body).toMatchObject({ key, name: 'Staff' });
      },
    );
  });

  it('PUT: developers and up change it (a stale version is a 409); viewers 403, unchanged', async () => {
    await forEveryRole(
      team,
      'updateSegment',
      () => givenSegment(),
      (person, segment) =>
        call('PUT', `${segmentsPath()}/${segment.key}`, person.auth, {
          name: 'Renamed',
          excluded: ['bob'],
          version: 1,
        }),
      async (_role, allowed, res, segment) => {
        expect(await segmentRow(segment.id)).toEqual({
          name: allowed ? 'Renamed' : segment.key,
          version: allowed ? 2 : 1,
        });
        if (allowed) expect(res.body).toMatchObject({ name: 'Renamed', excluded: ['bob'], version: 2 });
      },
    );
    const segment = await givenSegment();
    await call('PUT', `${segmentsPath()}/${segment.key}`, team.org.auth, { name: 'One' });
    expectEnvelope(
      await call('PUT', `${segmentsPath()}/${segment.key}`, team.org.auth, { name: 'Two', version: 1 }),
      409,
      /version 2, not 1/,
    );
    expect(await segmentRow(segment.id)).toEqual({ name: 'One', version: 2 });
  });

  it('DELETE: developers and up (204), refused with 409 while a rule uses it; viewers 403', async () => {
    await forEveryRole(
      team,
      'deleteSegment',
      () => givenSegment(),
      (person, segment) => call('DELETE', `${segmentsPath()}/${segment.key}`, person.auth),
      async (_role, allowed, _res, segment) => {
        expect(await segmentRow(segment.id)).toEqual(allowed ? undefined : { name: segment.key, version: 1 });
      },
    );
    const used = await givenSegment();
    const flag = await call('POST', `/v1/projects/${team.projectId}/flags`, team.org.auth, { key: `f-${hex()}` });
    const rule = await call(
      'PUT',
      `/v1/projects/default/flags/${flag.body.key}/environments/${team.env.dev}`,
      team.org.auth,
      {
        version: 1,
        rules: [{ clauses: [{ operator: 'segmentMatch', values: [used.key] }], serve: { variation: 0 } }],
      },
    );
    expect(rule.status, JSON.stringify(rule.body)).toBe(200);
    expectEnvelope(
      await call('DELETE', `${segmentsPath()}/${used.key}`, team.org.auth),
      409,
      new RegExp(flag.body.key),
    );
    expect(await segmentRow(used.id)).toBeDefined();
  });

  it('another organization finds none of them (404) and changes nothing', async () => {
    const segment = await givenSegment();
    const s = team.stranger.auth;
    expectEnvelope(await call('GET', segmentsPath(), s), 404);
    expectEnvelope(await call('GET', `${segmentsPath()}/${segment.key}`, s), 404);
    expectEnvelope(await call('POST', segmentsPath(), s, { key: 'mine' }), 404);
    expectEnvelope(await call('PUT', `${segmentsPath()}/${segment.key}`, s, { name: 'mine' }), 404);
    expectEnvelope(await call('DELETE', `${segmentsPath()}/${segment.key}`, s), 404);
    expect(await segmentRow(segment.id)).toEqual({ name: segment.key, version: 1 });
  });

  it('REST and GraphQL see the same segment', async () => {
    const made = await givenSegment({ rules: [RULE], excluded: ['eve'] });
    const read = await graphql(
      server.url,
      'query($p: ID!, $k: String!) { project(id: $p) { segment(key: $k) { id key name description included excluded version createdAt updatedAt rules { id clauses { attribute op values negate } } } } }',
      { p: team.projectId, k: made.key },
      team.as.viewer.auth,
    );
    const g = read.data.project.segment;
    const rest = (await call('GET', `${segmentsPath()}/${made.key}`, team.as.viewer.auth)).body;
    expect({
      id: rest.id,
      key: rest.key,
      name: rest.name,
      description: rest.description,
      included: rest.included,
      excluded: rest.excluded,
      version: rest.version,
      createdAt: rest.created_at,
      updatedAt: rest.updated_at,
      rules: rest.rules.map((r: any) => ({
        id: r.id,
        clauses: r.clauses.map((c: any) => ({
          attribute: c.attribute,
          op: c.operator,
          values: c.values,
          negate: c.negate,
        })),
      })),
    }).toEqual(g);
    const changed = await graphql(
      server.url,
      'mutation($p: ID!, $k: String!) { updateSegment(projectId: $p, key: $k, input: { included: ["zed"] }) { version } }',
      { p: team.projectId, k: made.key },
      team.as.developer.auth,
    );
    expect(changed.data.updateSegment.version).toBe(2);
    expect((await call('GET', `${segmentsPath()}/${made.key}`, team.org.auth)).body).toMatchObject({
      included: ['zed'],
      version: 2,
    });
  });
});
