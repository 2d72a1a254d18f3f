import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorCode, graphql } from './helpers/client.js';
import {
  environmentVersions,
  type GivenProject,
  givenFlag,
  givenProject,
  givenSegment,
  givenState,
  storedState,
  UPDATE_STATE,
} from './helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let org: GivenOrg;
let project: GivenProject;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' });
  org = await givenOrg(server.url);
  project = await givenProject(server, org);
});

const gql = (query: string, variables: Record<string, unknown>, auth: Record<string, string>) =>
  graphql(server.url, query, variables, auth);

const FIELDS = 'id key name description included excluded rules { id clauses { attribute op values negate } } version';
const CREATE = `mutation($p: ID!, $input: CreateSegmentInput!) { createSegment(projectId: $p, input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $v: Int, $input: UpdateSegmentInput!) { updateSegment(id: $id, expectedVersion: $v, input: $input) { ${FIELDS} } }`;
const DELETE = 'mutation($id: ID!) { deleteSegment(id: $id) { key } }';
const LIST =
  'query($p: ID!, $limit: Int, $offset: Int) { project(id: $p) { segments(limit: $limit, offset: $offset) { data { key } total limit offset hasMore } } }';

const stored = async (id: string) =>
  (
    await server.sql<{ key: string; included: string[]; rules: unknown[]; version: number }>(
      'select key, included, rules, version from segments where id = ?',
      [id],
    )
  )[0];
const problemsOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) =>
  (r.errors?.[0]?.extensions?.details as { problems?: { path: string; message: string }[] } | undefined)?.problems ??
  [];
const allEnvs = () => [project.env.dev!, project.env.staging!, project.env.production!];

describe('segments', () => {
  it('creates a segment with included and excluded keys and rules; rule ids are generated when omitted', async () => {
    const r = await gql(
      CREATE,
      {
        p: project.id,
        input: {
          key: 'beta-testers',
          name: 'Beta testers',
          included: ['alice'],
          excluded: ['mallory'],
          rules: [
            { clauses: [{ attribute: 'email', op: 'endsWith', values: ['@example.com'] }] },
            { id: 'pro-plan', clauses: [{ attribute: 'plan', op: 'in', values: ['pro', 'team'], negate: false }] },
          ],
        },
      },
      org.auth,
    );
    expect(r.errors).toBeUndefined();
    const segment = r.data.createSegment;
    expect(segment).toMatchObject({
      key: 'beta-testers',
      name: 'Beta testers',
      description: '',
      included: ['alice'],
      excluded: ['mallory'],
      version: 1,
    });
    expect(segment.rules[0].id).toMatch(/^[0-9a-f-]{36}$/);
    expect(segment.rules[1]).toEqual({
      id: 'pro-plan',
      clauses: [{ attribute: 'plan', op: 'in', values: ['pro', 'team'], negate: false }],
    });
    expect(await stored(segment.id)).toMatchObject({ key: 'beta-testers', included: ['alice'], version: 1 });

    const read = await gql(
      `query($p: ID!) { project(id: $p) { segment(key: "beta-testers") { ${FIELDS} } } }`,
      { p: project.id },
      org.auth,
    );
    expect(read.data.project.segment).toEqual(segment);
    const missing = await gql(
      'query($p: ID!) { project(id: $p) { segment(key: "nope") { key } } }',
      { p: project.id },
      org.auth,
    );
    expect(errorCode(missing)).toBe('NOT_FOUND');
    const audit = await server.sql('select action from audit_entries where resource_id = ?', [segment.id]);
    expect(audit).toEqual([{ action: 'segment.created' }]);
  });

  it('lists segments in the page envelope', async () => {
    const p = await givenProject(server, org);
    for (const key of ['c', 'a', 'b']) await givenSegment(server, org, p, { key });
    const all = await gql(LIST, { p: p.id }, org.auth);
    expect(all.data.project.segments).toEqual({
      data: [{ key: 'a' }, { key: 'b' }, { key: 'c' }],
      total: 3,
      limit: 50,
      offset: 0,
      hasMore: false,
    });
    const page = await gql(LIST, { p: p.id, limit: 1, offset: 1 }, org.auth);
    expect(page.data.project.segments).toEqual({ data: [{ key: 'b' }], total: 3, limit: 1, offset: 1, hasMore: true });
  });

  it('refuses invalid segments and duplicate keys, writing nothing', async () => {
    const count = async () =>
      Number(
        (await server.sql<{ n: string }>('select count(*) as n from segments where project_id = ?', [project.id]))[0]!
          .n,
      );
    const before = await count();
    const nested = await gql(
      CREATE,
      {
        p: project.id,
        input: { key: 'nested', rules: [{ clauses: [{ op: 'segmentMatch', values: ['beta-testers'] }] }] },
      },
      org.auth,
    );
    expect(errorCode(nested)).toBe('VALIDATION');
    expect(problemsOf(nested)).toEqual([
      { path: 'rules[0].clauses[0].op', message: 'segmentMatch is not allowed inside a segment' },
    ]);
    const regex = await gql(
      CREATE,
      {
        p: project.id,
        input: { key: 'regex', rules: [{ clauses: [{ attribute: 'email', op: 'matches', values: ['(?<=x)y'] }] }] },
      },
      org.auth,
    );
    expect(errorCode(regex)).toBe('VALIDATION');
    expect(regex.errors![0]!.message).toMatch(/^rules\[0\]\.clauses\[0\]\.values\[0\]/);
    const semver = await gql(
      CREATE,
      {
        p: project.id,
        input: { key: 'semver', rules: [{ clauses: [{ attribute: 'v', op: 'semverLt', values: ['1.2'] }] }] },
      },
      org.auth,
    );
    expect(errorCode(semver)).toBe('VALIDATION');
    const badKey = await gql(CREATE, { p: project.id, input: { key: '-bad' } }, org.auth);
    expect(errorCode(badKey)).toBe('VALIDATION');
    expect(await count()).toBe(before);

    const segment = await givenSegment(server, org, project);
    const dup = await gql(CREATE, { p: project.id, input: { key: segment.key } }, org.auth);
    expect(errorCode(dup)).toBe('CONFLICT');
    expect(await count()).toBe(before + 1);
  });

  it('updates a segment, bumping its version; a stale expectedVersion is refused with CONFLICT', async () => {
    const segment = await givenSegment(server, org, project, { included: ['a'] });
    const r = await gql(
      UPDATE,
      {
        id: segment.id,
        v: 1,
        input: {
          name: 'Renamed',
          included: ['a', 'b'],
          rules: [{ id: 'r1', clauses: [{ attribute: 'age', op: 'gte', values: [18] }] }],
        },
      },
      org.auth,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.updateSegment).toMatchObject({
      name: 'Renamed',
      included: ['a', 'b'],
      version: 2,
      rules: [{ id: 'r1' }],
    });

    const stale = await gql(UPDATE, { id: segment.id, v: 1, input: { included: [] } }, org.auth);
    expect(errorCode(stale)).toBe('CONFLICT');
    expect(await stored(segment.id)).toMatchObject({ included: ['a', 'b'], version: 2 });

    const invalid = await gql(
      UPDATE,
      { id: segment.id, input: { rules: [{ clauses: [{ attribute: 'age', op: 'gte', values: ['eighteen'] }] }] } },
      org.auth,
    );
    expect(errorCode(invalid)).toBe('VALIDATION');
    expect(await stored(segment.id)).toMatchObject({ version: 2, rules: [{ id: 'r1' }] });
  });

  it('create, update and delete each bump every environment of the project', async () => {
    let before = await environmentVersions(server, allEnvs());
    const bumpedSince = async () => {
      const after = await environmentVersions(server, allEnvs());
      const bumped = allEnvs().every((id) => after[id]! > before[id]!);
      before = after;
      return bumped;
    };
    const segment = await givenSegment(server, org, project);
    expect(await bumpedSince()).toBe(true);
    expect((await gql(UPDATE, { id: segment.id, input: { excluded: ['x'] } }, org.auth)).errors).toBeUndefined();
    expect(await bumpedSince()).toBe(true);
    expect(
      (await gql(UPDATE, { id: segment.id, input: { excluded: [{ not: 'a string' }] } }, org.auth)).errors,
    ).toBeDefined();
    expect(await bumpedSince()).toBe(false);
    expect((await gql(DELETE, { id: segment.id }, org.auth)).errors).toBeUndefined();
    expect(await bumpedSince()).toBe(true);
  });

  it('refuses to delete a segment while a flag uses it, naming the flags', async () => {
    const segment = await givenSegment(server, org, project);
    const unused = await givenSegment(server, org, project);
    await givenSegment(server, org, project, { key: 'other' });
    const flag = await givenFlag(server, org, project);
    await givenState(server, org, flag.id, project.env.production!, {
      rules: [
        {
          clauses: [
            { attribute: 'plan', op: 'in', values: [unused.key] },
            { op: 'segmentMatch', values: ['other', segment.key], negate: true },
          ],
          serve: { variation: 0 },
        },
      ],
    });
    const refused = await gql(DELETE, { id: segment.id }, org.auth);
    expect(errorCode(refused)).toBe('CONFLICT');
    expect(refused.errors![0]!.message).toContain(`"${flag.key}"`);
    expect(refused.errors![0]!.extensions!.details).toEqual({ flags: [flag.key] });
    expect(await stored(segment.id)).toBeDefined();

    // A segment whose key merely appears elsewhere (another operator) is not "used".
    expect((await gql(DELETE, { id: unused.id }, org.auth)).errors).toBeUndefined();

    const { version } = await storedState(server, flag.id, project.env.production!);
    const cleared = await gql(
      UPDATE_STATE,
      { flagId: flag.id, env: project.env.production, v: version, input: { rules: [] } },
      org.auth,
    );
    expect(cleared.errors).toBeUndefined();
    expect((await gql(DELETE, { id: segment.id }, org.auth)).errors).toBeUndefined();
    expect(await stored(segment.id)).toBeUndefined();
  });

  it('a flag rule may name a segment once it exists', async () => {
    const flag = await givenFlag(server, org, project);
    const before = await gql(
      UPDATE_STATE,
      {
        flagId: flag.id,
        env: project.env.dev,
        v: 1,
        input: { rules: [{ clauses: [{ op: 'segmentMatch', values: ['later'] }], serve: { variation: 0 } }] },
      },
      org.auth,
    );
    expect(errorCode(before)).toBe('VALIDATION');
    await givenSegment(server, org, project, { key: 'later' });
    await givenState(server, org, flag.id, project.env.dev!, {
      rules: [{ clauses: [{ op: 'segmentMatch', values: ['later'] }], serve: { variation: 0 } }],
    });
  });
});

describe('permissions', () => {
  it('a viewer reads segments but cannot write them; a developer can', async () => {
    const viewer = await givenMember(server.url, org, 'viewer');
    const developer = await givenMember(server.url, org, 'developer');
    const segment = await givenSegment(server, org, project, { included: ['v'] });
    const read = await gql(LIST, { p: project.id }, viewer.auth);
    expect(read.errors).toBeUndefined();
    expect(errorCode(await gql(CREATE, { p: project.id, input: { key: 'by-viewer' } }, viewer.auth))).toBe('FORBIDDEN');
    expect(errorCode(await gql(UPDATE, { id: segment.id, input: { included: [] } }, viewer.auth))).toBe('FORBIDDEN');
    expect(errorCode(await gql(DELETE, { id: segment.id }, viewer.auth))).toBe('FORBIDDEN');
    expect(await stored(segment.id)).toMatchObject({ included: ['v'], version: 1 });

    const byDeveloper = await gql(UPDATE, { id: segment.id, input: { included: ['d'] } }, developer.auth);
    expect(byDeveloper.errors).toBeUndefined();
    expect((await gql(DELETE, { id: segment.id }, developer.auth)).errors).toBeUndefined();
  });

  it("nobody sees or changes another organization's segments", async () => {
    const segment = await givenSegment(server, org, project);
    const stranger = await givenOrg(server.url);
    expect(errorCode(await gql(UPDATE, { id: segment.id, input: { included: ['x'] } }, stranger.auth))).toBe(
      'NOT_FOUND',
    );
    expect(errorCode(await gql(DELETE, { id: segment.id }, stranger.auth))).toBe('NOT_FOUND');
    expect(await stored(segment.id)).toBeDefined();
  });
});

describe('change notifications', () => {
  it('announces a segment change to every environment of the project, naming the segment', async () => {
    const client = new pg.Client({ connectionString: server.databaseUrl });
    await client.connect();
    const received: { environments: Record<string, number>; kind: string; segmentKeys?: string[] }[] = [];
    client.on('notification', (n) => received.push(JSON.parse(n.payload!)));
    await client.query('LISTEN vexil_changes');
    try {
      const segment = await givenSegment(server, org, project);
      const refused = await gql(
        UPDATE,
        { id: segment.id, input: { rules: [{ clauses: [{ attribute: '', op: 'in', values: ['x'] }] }] } },
        org.auth,
      );
      expect(errorCode(refused)).toBe('VALIDATION');
      expect((await gql(UPDATE, { id: segment.id, input: { included: ['z'] } }, org.auth)).errors).toBeUndefined();
      const versions = await environmentVersions(server, allEnvs());
      await expect.poll(() => received.length, { timeout: 5000 }).toBe(2);
      expect(received.map((n) => n.kind)).toEqual(['segment.created', 'segment.updated']);
      expect(received[1]).toMatchObject({ environments: versions, segmentKeys: [segment.key] });
    } finally {
      await client.end();
    }
  });
});
