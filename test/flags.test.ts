import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAllEnvironmentData, loadEnvironmentData } from '../src/modules/flags/snapshot-source.js';
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
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' });
});

const gql = (query: string, variables: Record<string, unknown>, auth: Record<string, string>) =>
  graphql(server.url, query, variables, auth);

const CREATE_FLAG =
  'mutation($p: ID!, $input: CreateFlagInput!) { createFlag(projectId: $p, input: $input) { id key name kind variations { value name } tags clientSideAvailable temporary archived } }';
const UPDATE_FLAG =
  'mutation($id: ID!, $input: UpdateFlagInput!) { updateFlag(id: $id, input: $input) { key name description tags variations { value } clientSideAvailable temporary } }';
const ARCHIVE = 'mutation($id: ID!) { archiveFlag(id: $id) { archived archivedAt } }';
const RESTORE = 'mutation($id: ID!) { restoreFlag(id: $id) { archived archivedAt } }';
const DELETE = 'mutation($id: ID!) { deleteFlag(id: $id) { key } }';
const KILL =
  'mutation($f: ID!, $env: ID) { killFlag(flagId: $f, environmentId: $env) { environment { key } on version } }';
const PROMOTE =
  'mutation($f: ID!, $from: ID!, $to: [ID!]!) { promoteFlag(flagId: $f, fromEnvironmentId: $from, toEnvironmentIds: $to) { environment { key } on version rules { id } prerequisites { key } } }';
const LIST = `query($p: ID!, $limit: Int, $offset: Int, $tag: String, $archived: Boolean, $search: String) { project(id: $p) {
  flags(limit: $limit, offset: $offset, tag: $tag, archived: $archived, search: $search) { data { key } total limit offset hasMore } } }`;

const countFlags = async (projectId: string) =>
  Number((await server.sql<{ n: string }>('select count(*) as n from flags where project_id = ?', [projectId]))[0]!.n);
const problemsOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) =>
  (r.errors?.[0]?.extensions?.details as { problems?: { path: string; message: string }[] } | undefined)?.problems ??
  [];

let org: GivenOrg;
let project: GivenProject;
beforeAll(async () => {
  org = await givenOrg(server.url);
  project = await givenProject(server, org);
});

describe('flags', () => {
  it('creates a boolean flag with [true, false], off in every environment, serving false', async () => {
    const r = await gql(
      CREATE_FLAG,
      {
        p: project.id,
        input: { key: 'new-checkout', name: 'New checkout', kind: 'boolean', tags: ['checkout', 'web'] },
      },
      org.auth,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.createFlag).toMatchObject({
      key: 'new-checkout',
      kind: 'boolean',
      variations: [
        { value: true, name: null },
        { value: false, name: null },
      ],
      tags: ['checkout', 'web'],
      clientSideAvailable: false,
      temporary: true,
      archived: false,
    });
    const read = await gql(
      'query($p: ID!) { project(id: $p) { flag(key: "new-checkout") { environments { environment { key } on offVariation version fallthrough { variation } rules { id } targets { variation } prerequisites { key } } } } }',
      { p: project.id },
      org.auth,
    );
    expect(read.errors).toBeUndefined();
    expect(read.data.project.flag.environments).toEqual(
      ['dev', 'staging', 'production'].map((key) => ({
        environment: { key },
        on: false,
        offVariation: 1,
        version: 1,
        fallthrough: { variation: 0 },
        rules: [],
        targets: [],
        prerequisites: [],
      })),
    );
    const audit = await server.sql('select action from audit_entries where resource_id = ?', [r.data.createFlag.id]);
    expect(audit).toEqual([{ action: 'flag.created' }]);
  });

  it('creates string, number and json flags with their variations', async () => {
    const cases = [
      { kind: 'string', variations: [{ value: 'red', name: 'Red' }, { value: 'blue' }] },
      { kind: 'number', variations: [{ value: 1 }, { value: 2.5 }] },
      { kind: 'json', variations: [{ value: { a: [1, null] } }, { value: null }] },
    ];
    for (const input of cases) {
      const r = await gql(CREATE_FLAG, { p: project.id, input: { key: `kind-${input.kind}`, ...input } }, org.auth);
      expect(r.errors, input.kind).toBeUndefined();
      expect(r.data.createFlag.variations.map((v: { value: unknown }) => v.value)).toEqual(
        input.variations.map((v) => v.value),
      );
    }
    const state = await gql(
      'query($p: ID!) { project(id: $p) { flag(key: "kind-string") { state(environmentKey: "dev") { offVariation fallthrough { variation } } } } }',
      { p: project.id },
      org.auth,
    );
    expect(state.data.project.flag.state).toEqual({ offVariation: 0, fallthrough: { variation: 0 } });
  });

  it('refuses variation values of the wrong kind, a bad key and a duplicate key; nothing is written', async () => {
    const before = await countFlags(project.id);
    const wrong = await gql(
      CREATE_FLAG,
      { p: project.id, input: { key: 'wrong-kind', kind: 'number', variations: [{ value: 1 }, { value: 'two' }] } },
      org.auth,
    );
    expect(errorCode(wrong)).toBe('VALIDATION');
    expect(wrong.errors![0]!.message).toContain('variations[1].value');
    expect(problemsOf(wrong)).toEqual([{ path: 'variations[1].value', message: 'value is not a valid number' }]);
    const three = await gql(
      CREATE_FLAG,
      {
        p: project.id,
        input: { key: 'three', kind: 'boolean', variations: [{ value: true }, { value: false }, { value: true }] },
      },
      org.auth,
    );
    expect(errorCode(three)).toBe('VALIDATION');
    const none = await gql(CREATE_FLAG, { p: project.id, input: { key: 'no-variations', kind: 'string' } }, org.auth);
    expect(errorCode(none)).toBe('VALIDATION');
    const badKey = await gql(CREATE_FLAG, { p: project.id, input: { key: 'Bad Key', kind: 'boolean' } }, org.auth);
    expect(errorCode(badKey)).toBe('VALIDATION');
    expect(await countFlags(project.id)).toBe(before);

    const flag = await givenFlag(server, org, project);
    const dup = await gql(CREATE_FLAG, { p: project.id, input: { key: flag.key, kind: 'boolean' } }, org.auth);
    expect(errorCode(dup)).toBe('CONFLICT');
    expect(await countFlags(project.id)).toBe(before + 1);
  });

  it('lists flags in the page envelope, filtered by tag, archived state and search', async () => {
    const p = await givenProject(server, org);
    await givenFlag(server, org, p, { key: 'alpha', name: 'Alpha banner', tags: ['web'] });
    await givenFlag(server, org, p, {
      key: 'beta',
      name: 'Beta at 50%',
      description: 'mobile BANNER test',
      tags: ['mobile'],
    });
    await givenFlag(server, org, p, { key: 'gamma', tags: ['web', 'mobile'] });
    const delta = await givenFlag(server, org, p, { key: 'delta', tags: ['web'] });
    expect((await gql(ARCHIVE, { id: delta.id }, org.auth)).errors).toBeUndefined();

    const keys = async (vars: Record<string, unknown>) => {
      const r = await gql(LIST, { p: p.id, ...vars }, org.auth);
      expect(r.errors).toBeUndefined();
      return r.data.project.flags;
    };
    expect(await keys({})).toEqual({
      data: [{ key: 'alpha' }, { key: 'beta' }, { key: 'gamma' }],
      total: 3,
      limit: 50,
      offset: 0,
      hasMore: false,
    });
    expect(await keys({ limit: 2, offset: 1 })).toEqual({
      data: [{ key: 'beta' }, { key: 'gamma' }],
      total: 3,
      limit: 2,
      offset: 1,
      hasMore: false,
    });
    expect(await keys({ limit: 1 })).toMatchObject({ data: [{ key: 'alpha' }], hasMore: true });
    expect((await keys({ tag: 'web' })).data).toEqual([{ key: 'alpha' }, { key: 'gamma' }]);
    expect((await keys({ archived: true })).data).toEqual([{ key: 'delta' }]);
    expect((await keys({ archived: null })).total).toBe(4);
    expect((await keys({ archived: null, tag: 'web' })).data).toEqual([
      { key: 'alpha' },
      { key: 'delta' },
      { key: 'gamma' },
    ]);
    expect((await keys({ search: 'banner' })).data).toEqual([{ key: 'alpha' }, { key: 'beta' }]);
    expect((await keys({ search: 'AMM' })).data).toEqual([{ key: 'gamma' }]);
    expect((await keys({ search: '%' })).data).toEqual([{ key: 'beta' }]);
    expect(errorCode(await gql(LIST, { p: p.id, limit: 101 }, org.auth))).toBe('VALIDATION');

    const missing = await gql(
      'query($p: ID!) { project(id: $p) { flag(key: "nope") { key } } }',
      { p: p.id },
      org.auth,
    );
    expect(errorCode(missing)).toBe('NOT_FOUND');
  });

  it('updates name, description, tags and flags; the key never changes', async () => {
    const flag = await givenFlag(server, org, project);
    const r = await gql(
      UPDATE_FLAG,
      {
        id: flag.id,
        input: {
          name: 'Renamed',
          description: 'why',
          tags: ['a', 'a', 'b'],
          clientSideAvailable: true,
          temporary: false,
        },
      },
      org.auth,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.updateFlag).toEqual({
      key: flag.key,
      name: 'Renamed',
      description: 'why',
      tags: ['a', 'b'],
      variations: [{ value: true }, { value: false }],
      clientSideAvailable: true,
      temporary: false,
    });
    const [row] = await server.sql<{ name: string; client_side_available: boolean }>(
      'select name, client_side_available from flags where id = ?',
      [flag.id],
    );
    expect(row).toEqual({ name: 'Renamed', client_side_available: true });
  });

  it("re-validates every environment's targeting when the variations change, and writes nothing when it no longer fits", async () => {
    const flag = await givenFlag(server, org, project, {
      kind: 'string',
      variations: [{ value: 'a' }, { value: 'b' }, { value: 'c' }],
    });
    await givenState(server, org, flag.id, project.env.staging!, {
      rules: [{ clauses: [{ attribute: 'country', op: 'in', values: ['NZ'] }], serve: { variation: 2 } }],
    });

    const shrink = await gql(
      UPDATE_FLAG,
      { id: flag.id, input: { variations: [{ value: 'a' }, { value: 'b' }] } },
      org.auth,
    );
    expect(errorCode(shrink)).toBe('VALIDATION');
    expect(problemsOf(shrink)).toEqual([
      { path: 'environments.staging.rules[0].serve.variation', message: 'variation index 2 out of range' },
    ]);
    const [row] = await server.sql<{ variations: unknown[] }>('select variations from flags where id = ?', [flag.id]);
    expect(row!.variations).toHaveLength(3);

    const wrongKind = await gql(
      UPDATE_FLAG,
      { id: flag.id, input: { variations: [{ value: 'a' }, { value: 'b' }, { value: 3 }] } },
      org.auth,
    );
    expect(errorCode(wrongKind)).toBe('VALIDATION');

    const rename = await gql(
      UPDATE_FLAG,
      {
        id: flag.id,
        input: { variations: [{ value: 'x' }, { value: 'y' }, { value: 'z', name: 'Zed' }, { value: 'w' }] },
      },
      org.auth,
    );
    expect(rename.errors).toBeUndefined();
    expect(rename.data.updateFlag.variations).toEqual([{ value: 'x' }, { value: 'y' }, { value: 'z' }, { value: 'w' }]);
  });

  it('archives and restores a flag', async () => {
    const flag = await givenFlag(server, org, project);
    const archived = await gql(ARCHIVE, { id: flag.id }, org.auth);
    expect(archived.data.archiveFlag.archived).toBe(true);
    expect(Date.parse(archived.data.archiveFlag.archivedAt)).toBeGreaterThan(Date.now() - 60_000);
    const [row] = await server.sql<{ archived_at: Date | null }>('select archived_at from flags where id = ?', [
      flag.id,
    ]);
    expect(row!.archived_at).not.toBeNull();
    const edit = await gql(
      UPDATE_STATE,
      { flagId: flag.id, env: project.env.dev, v: 1, input: { on: true } },
      org.auth,
    );
    expect(errorCode(edit)).toBe('CONFLICT');
    const restored = await gql(RESTORE, { id: flag.id }, org.auth);
    expect(restored.data.restoreFlag).toEqual({ archived: false, archivedAt: null });
  });

  it('a new environment gets a state for every existing flag', async () => {
    const p = await givenProject(server, org);
    const flag = await givenFlag(server, org, p);
    const env = await gql(
      'mutation($p: ID!) { createEnvironment(projectId: $p, input: { key: "qa", name: "QA" }) { id } }',
      { p: p.id },
      org.auth,
    );
    expect(env.errors).toBeUndefined();
    const state = await storedState(server, flag.id, env.data.createEnvironment.id);
    expect(state).toMatchObject({ on: false, off_variation: 1, fallthrough: { variation: 0 }, version: 1 });
  });

  it('deletes a flag with its targeting, but not while another flag has it as a prerequisite', async () => {
    const p = await givenProject(server, org);
    const parent = await givenFlag(server, org, p);
    const child = await givenFlag(server, org, p);
    await givenState(server, org, child.id, p.env.production!, { prerequisites: [{ key: parent.key, variation: 0 }] });

    const refused = await gql(DELETE, { id: parent.id }, org.auth);
    expect(errorCode(refused)).toBe('CONFLICT');
    expect(refused.errors![0]!.message).toContain(child.key);
    expect(await countFlags(p.id)).toBe(2);

    expect((await gql(DELETE, { id: child.id }, org.auth)).errors).toBeUndefined();
    expect((await gql(DELETE, { id: parent.id }, org.auth)).errors).toBeUndefined();
    expect(await countFlags(p.id)).toBe(0);
    const states = await server.sql('select id from flag_states where flag_id = any(?::uuid[])', [
      `{${parent.id},${child.id}}`,
    ]);
    expect(states).toEqual([]);
  });
});

describe('targeting in an environment', () => {
  it('changes targets, rules, fallthrough and prerequisites; keeps given rule ids and generates missing ones', async () => {
    const flag = await givenFlag(server, org, project);
    const other = await givenFlag(server, org, project);
    const segment = await givenSegment(server, org, project, { included: ['u1'] });
    const r = await gql(
      UPDATE_STATE,
      {
        projectId: project.id,
        flagKey: flag.key,
        env: project.env.dev,
        v: 1,
        input: {
          on: true,
          targets: [{ variation: 0, values: ['alice', 'bob'] }],
          rules: [
            {
              id: 'beta-users',
              description: 'beta',
              clauses: [{ op: 'segmentMatch', values: [segment.key] }],
              serve: { variation: 0 },
            },
            {
              clauses: [{ attribute: 'version', op: 'semverGt', values: ['2.0.0'], negate: true }],
              serve: {
                rollout: {
                  variations: [
                    { variation: 0, weight: 25000 },
                    { variation: 1, weight: 75000 },
                  ],
                  bucketBy: 'orgId',
                },
              },
            },
          ],
          fallthrough: {
            rollout: {
              variations: [
                { variation: 0, weight: 10000 },
                { variation: 1, weight: 90000 },
              ],
            },
          },
          prerequisites: [{ key: other.key, variation: 0 }],
        },
      },
      org.auth,
    );
    expect(r.errors).toBeUndefined();
    const state = r.data.updateFlagState;
    expect(state).toMatchObject({
      environment: { key: 'dev' },
      on: true,
      version: 2,
      targets: [{ variation: 0, values: ['alice', 'bob'] }],
      prerequisites: [{ key: other.key, variation: 0 }],
    });
    expect(state.rules[0]).toEqual({
      id: 'beta-users',
      description: 'beta',
      clauses: [{ attribute: '', op: 'segmentMatch', values: [segment.key], negate: false }],
      serve: { variation: 0, rollout: null },
    });
    expect(state.rules[1].id).toMatch(/^[0-9a-f-]{36}$/);
    expect(state.rules[1].serve).toEqual({
      variation: null,
      rollout: {
        variations: [
          { variation: 0, weight: 25000 },
          { variation: 1, weight: 75000 },
        ],
        bucketBy: 'orgId',
      },
    });
    expect(state.fallthrough).toEqual({
      variation: null,
      rollout: {
        variations: [
          { variation: 0, weight: 10000 },
          { variation: 1, weight: 90000 },
        ],
      },
    });

    const stored = await storedState(server, flag.id, project.env.dev!);
    expect(stored.version).toBe(2);
    expect(stored.rules).toHaveLength(2);
    // Re-sending the rules with their ids keeps them.
    const again = await gql(
      UPDATE_STATE,
      {
        flagId: flag.id,
        env: project.env.dev,
        v: 2,
        input: {
          rules: state.rules.map((rule: { id: string }) => ({ id: rule.id, clauses: [], serve: { variation: 1 } })),
        },
      },
      org.auth,
    );
    expect(again.errors).toBeUndefined();
    expect(again.data.updateFlagState.rules.map((x: { id: string }) => x.id)).toEqual(
      state.rules.map((x: { id: string }) => x.id),
    );
    expect(again.data.updateFlagState.on).toBe(true);
    // Other environments are untouched.
    expect((await storedState(server, flag.id, project.env.production!)).version).toBe(1);
  });

  const invalid: [string, (ctx: { other: string }) => Record<string, unknown>, RegExp][] = [
    [
      'rollout weights that do not sum to 100000',
      () => ({
        fallthrough: {
          rollout: {
            variations: [
              { variation: 0, weight: 50000 },
              { variation: 1, weight: 40000 },
            ],
          },
        },
      }),
      /^fallthrough\.rollout\.variations: weights sum to 90000/,
    ],
    [
      'an unknown segment',
      () => ({ rules: [{ clauses: [{ op: 'segmentMatch', values: ['no-such-segment'] }], serve: { variation: 0 } }] }),
      /unknown segment "no-such-segment"/,
    ],
    [
      'an unknown prerequisite flag',
      () => ({ prerequisites: [{ key: 'no-such-flag', variation: 0 }] }),
      /unknown flag "no-such-flag"/,
    ],
    [
      'a prerequisite variation out of range',
      ({ other }) => ({ prerequisites: [{ key: other, variation: 2 }] }),
      /out of range for flag/,
    ],
    [
      'a regex RE2 cannot run',
      () => ({
        rules: [
          { clauses: [{ attribute: 'email', op: 'matches', values: ['^\\u0061dmin$'] }], serve: { variation: 0 } },
        ],
      }),
      /rules\[0\]\.clauses\[0\]\.values\[0\]/,
    ],
    [
      'a too long regex',
      () => ({
        rules: [
          { clauses: [{ attribute: 'email', op: 'matches', values: ['a'.repeat(300)] }], serve: { variation: 0 } },
        ],
      }),
      /256/,
    ],
    [
      'too many rules',
      () => ({ rules: Array.from({ length: 101 }, () => ({ clauses: [], serve: { variation: 0 } })) }),
      /at most 100 rules/,
    ],
    ['a variation index out of range', () => ({ offVariation: 5 }), /offVariation/],
    [
      'a number operator with a string',
      () => ({ rules: [{ clauses: [{ attribute: 'age', op: 'gt', values: ['18'] }], serve: { variation: 0 } }] }),
      /finite number/,
    ],
    [
      'a serve with both a variation and a rollout',
      () => ({ fallthrough: { variation: 0, rollout: { variations: [{ variation: 0, weight: 100000 }] } } }),
      /exactly one of variation or rollout/,
    ],
    [
      'duplicate rule ids',
      () => ({
        rules: [
          { id: 'r', clauses: [], serve: { variation: 0 } },
          { id: 'r', clauses: [], serve: { variation: 1 } },
        ],
      }),
      /duplicate rule id/,
    ],
  ];
  for (const [what, input, message] of invalid) {
    it(`refuses ${what}, writing nothing`, async () => {
      const flag = await givenFlag(server, org, project);
      const other = await givenFlag(server, org, project);
      const versions = await environmentVersions(server, [project.env.dev!]);
      const r = await gql(
        UPDATE_STATE,
        { flagId: flag.id, env: project.env.dev, v: 1, input: { on: true, ...input({ other: other.key }) } },
        org.auth,
      );
      expect(errorCode(r)).toBe('VALIDATION');
      expect(r.status).toBe(400);
      expect(r.errors![0]!.message).toMatch(message);
      expect(problemsOf(r).length).toBeGreaterThan(0);
      expect(await storedState(server, flag.id, project.env.dev!)).toMatchObject({
        on: false,
        version: 1,
        rules: [],
        prerequisites: [],
      });
      expect(await environmentVersions(server, [project.env.dev!])).toEqual(versions);
    });
  }

  it('refuses a prerequisite cycle in the same environment, but not across environments', async () => {
    const a = await givenFlag(server, org, project);
    const b = await givenFlag(server, org, project);
    const c = await givenFlag(server, org, project);
    await givenState(server, org, a.id, project.env.dev!, { prerequisites: [{ key: b.key, variation: 0 }] });
    await givenState(server, org, b.id, project.env.dev!, { prerequisites: [{ key: c.key, variation: 0 }] });
    const cycle = await gql(
      UPDATE_STATE,
      { flagId: c.id, env: project.env.dev, v: 1, input: { prerequisites: [{ key: a.key, variation: 0 }] } },
      org.auth,
    );
    expect(errorCode(cycle)).toBe('VALIDATION');
    expect(cycle.errors![0]!.message).toContain(`prerequisite cycle: ${c.key} → ${a.key} → ${b.key} → ${c.key}`);
    expect((await storedState(server, c.id, project.env.dev!)).prerequisites).toEqual([]);
    const self = await gql(
      UPDATE_STATE,
      { flagId: c.id, env: project.env.dev, v: 1, input: { prerequisites: [{ key: c.key, variation: 0 }] } },
      org.auth,
    );
    expect(errorCode(self)).toBe('VALIDATION');
    // In staging nothing points back, so the same edge is fine there.
    await givenState(server, org, c.id, project.env.staging!, { prerequisites: [{ key: a.key, variation: 0 }] });
  });

  it('of two concurrent changes that would together close a cycle, exactly one is written', async () => {
    const a = await givenFlag(server, org, project);
    const b = await givenFlag(server, org, project);
    const [ab, ba] = await Promise.all([
      gql(
        UPDATE_STATE,
        { flagId: a.id, env: project.env.dev, v: 1, input: { prerequisites: [{ key: b.key, variation: 0 }] } },
        org.auth,
      ),
      gql(
        UPDATE_STATE,
        { flagId: b.id, env: project.env.dev, v: 1, input: { prerequisites: [{ key: a.key, variation: 0 }] } },
        org.auth,
      ),
    ]);
    expect([errorCode(ab), errorCode(ba)].sort()).toEqual(['VALIDATION', undefined]);
    const written = [
      await storedState(server, a.id, project.env.dev!),
      await storedState(server, b.id, project.env.dev!),
    ];
    expect(written.filter((s) => s.prerequisites.length > 0)).toHaveLength(1);
  });

  it('refuses a stale expectedVersion with CONFLICT and writes nothing', async () => {
    const flag = await givenFlag(server, org, project);
    await givenState(server, org, flag.id, project.env.dev!, { on: true });
    const versions = await environmentVersions(server, [project.env.dev!]);
    const stale = await gql(
      UPDATE_STATE,
      { flagId: flag.id, env: project.env.dev, v: 1, input: { on: false, targets: [{ variation: 1, values: ['x'] }] } },
      org.auth,
    );
    expect(errorCode(stale)).toBe('CONFLICT');
    expect(stale.errors![0]!.extensions!.details).toEqual({ currentVersion: 2 });
    expect(await storedState(server, flag.id, project.env.dev!)).toMatchObject({ on: true, version: 2, targets: [] });
    expect(await environmentVersions(server, [project.env.dev!])).toEqual(versions);
  });

  it('refuses an environment of another project, and a flag named two ways', async () => {
    const flag = await givenFlag(server, org, project);
    const elsewhere = await givenProject(server, org);
    const r = await gql(UPDATE_STATE, { flagId: flag.id, env: elsewhere.env.dev, v: 1, input: { on: true } }, org.auth);
    expect(errorCode(r)).toBe('NOT_FOUND');
    const both = await gql(
      UPDATE_STATE,
      { flagId: flag.id, projectId: project.id, flagKey: flag.key, env: project.env.dev, v: 1, input: { on: true } },
      org.auth,
    );
    expect(errorCode(both)).toBe('VALIDATION');
  });
});

describe('kill switch', () => {
  it('turns a flag off in one environment', async () => {
    const flag = await givenFlag(server, org, project);
    for (const env of ['dev', 'production']) await givenState(server, org, flag.id, project.env[env]!, { on: true });
    const r = await gql(KILL, { f: flag.id, env: project.env.production }, org.auth);
    expect(r.errors).toBeUndefined();
    expect(r.data.killFlag).toEqual([{ environment: { key: 'production' }, on: false, version: 3 }]);
    expect((await storedState(server, flag.id, project.env.production!)).on).toBe(false);
    expect((await storedState(server, flag.id, project.env.dev!)).on).toBe(true);
  });

  it('turns a flag off in every environment at once', async () => {
    const flag = await givenFlag(server, org, project);
    for (const env of ['dev', 'staging', 'production'])
      await givenState(server, org, flag.id, project.env[env]!, { on: true });
    const r = await gql(KILL, { f: flag.id }, org.auth);
    expect(r.errors).toBeUndefined();
    expect(r.data.killFlag.map((s: { on: boolean }) => s.on)).toEqual([false, false, false]);
    for (const env of ['dev', 'staging', 'production'])
      expect((await storedState(server, flag.id, project.env[env]!)).on).toBe(false);
  });
});

describe('promotion', () => {
  it('copies the targeting from one environment to others', async () => {
    const flag = await givenFlag(server, org, project);
    const other = await givenFlag(server, org, project);
    const dev = await givenState(server, org, flag.id, project.env.dev!, {
      on: true,
      offVariation: 0,
      targets: [{ variation: 1, values: ['qa-bot'] }],
      rules: [{ clauses: [{ attribute: 'plan', op: 'in', values: ['pro'] }], serve: { variation: 0 } }],
      prerequisites: [{ key: other.key, variation: 0 }],
    });
    const r = await gql(
      PROMOTE,
      { f: flag.id, from: project.env.dev, to: [project.env.staging, project.env.production] },
      org.auth,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.promoteFlag).toEqual(
      ['staging', 'production'].map((key) => ({
        environment: { key },
        on: true,
        version: 2,
        rules: [{ id: dev.rules[0].id }],
        prerequisites: [{ key: other.key }],
      })),
    );
    const source = await storedState(server, flag.id, project.env.dev!);
    for (const env of ['staging', 'production']) {
      const copy = await storedState(server, flag.id, project.env[env]!);
      expect({ ...copy, version: 0 }).toEqual({ ...source, version: 0 });
    }
  });

  it('is refused, writing nothing anywhere, when a prerequisite is archived', async () => {
    const flag = await givenFlag(server, org, project);
    const parent = await givenFlag(server, org, project);
    await givenState(server, org, flag.id, project.env.dev!, {
      on: true,
      prerequisites: [{ key: parent.key, variation: 0 }],
    });
    expect((await gql(ARCHIVE, { id: parent.id }, org.auth)).errors).toBeUndefined();
    const versions = await environmentVersions(server, [project.env.staging!, project.env.production!]);
    const r = await gql(
      PROMOTE,
      { f: flag.id, from: project.env.dev, to: [project.env.staging, project.env.production] },
      org.auth,
    );
    expect(errorCode(r)).toBe('VALIDATION');
    expect(problemsOf(r).map((p) => p.path)).toEqual([
      'environments.staging.prerequisites[0].key',
      'environments.production.prerequisites[0].key',
    ]);
    for (const env of ['staging', 'production'])
      expect(await storedState(server, flag.id, project.env[env]!)).toMatchObject({
        on: false,
        version: 1,
        prerequisites: [],
      });
    expect(await environmentVersions(server, [project.env.staging!, project.env.production!])).toEqual(versions);
  });

  it('is refused when the copy would close a prerequisite cycle in one target', async () => {
    const a = await givenFlag(server, org, project);
    const b = await givenFlag(server, org, project);
    await givenState(server, org, a.id, project.env.dev!, { prerequisites: [{ key: b.key, variation: 0 }] });
    await givenState(server, org, b.id, project.env.production!, { prerequisites: [{ key: a.key, variation: 0 }] });
    const r = await gql(
      PROMOTE,
      { f: a.id, from: project.env.dev, to: [project.env.staging, project.env.production] },
      org.auth,
    );
    expect(errorCode(r)).toBe('VALIDATION');
    expect(problemsOf(r)).toEqual([
      { path: 'environments.production.prerequisites', message: `prerequisite cycle: ${a.key} → ${b.key} → ${a.key}` },
    ]);
    expect((await storedState(server, a.id, project.env.staging!)).version).toBe(1);
  });
});

describe('every change bumps the environment versions', () => {
  it('create, update, state, kill, promote, archive, restore and delete', async () => {
    const p = await givenProject(server, org);
    const all = [p.env.dev!, p.env.staging!, p.env.production!];
    const bumped = async (change: () => Promise<unknown>) => {
      const before = await environmentVersions(server, all);
      await change();
      const after = await environmentVersions(server, all);
      return all.filter((id) => after[id]! > before[id]!).map((id) => Object.keys(p.env).find((k) => p.env[k] === id));
    };
    const ok = async (query: string, vars: Record<string, unknown>) => {
      const r = await gql(query, vars, org.auth);
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    };
    let flag = { id: '', key: '' };
    expect(await bumped(async () => (flag = await givenFlag(server, org, p)))).toEqual([
      'dev',
      'staging',
      'production',
    ]);
    expect(await bumped(() => ok(UPDATE_FLAG, { id: flag.id, input: { name: 'x' } }))).toEqual([
      'dev',
      'staging',
      'production',
    ]);
    expect(await bumped(() => givenState(server, org, flag.id, p.env.staging!, { on: true }))).toEqual(['staging']);
    expect(await bumped(() => ok(KILL, { f: flag.id, env: p.env.staging }))).toEqual(['staging']);
    expect(await bumped(() => ok(PROMOTE, { f: flag.id, from: p.env.dev, to: [p.env.production] }))).toEqual([
      'production',
    ]);
    expect(await bumped(() => ok(ARCHIVE, { id: flag.id }))).toEqual(['dev', 'staging', 'production']);
    expect(await bumped(() => ok(RESTORE, { id: flag.id }))).toEqual(['dev', 'staging', 'production']);
    expect(await bumped(() => ok(DELETE, { id: flag.id }))).toEqual(['dev', 'staging', 'production']);
  });
});

describe('permissions', () => {
  it('a viewer reads flags but cannot change them', async () => {
    const viewer = await givenMember(server.url, org, 'viewer');
    const flag = await givenFlag(server, org, project);
    const read = await gql(
      'query($p: ID!, $k: String!) { project(id: $p) { flag(key: $k) { key environments { on } } } }',
      { p: project.id, k: flag.key },
      viewer.auth,
    );
    expect(read.errors).toBeUndefined();
    expect(read.data.project.flag.environments).toHaveLength(3);
    const before = await countFlags(project.id);
    expect(
      errorCode(await gql(CREATE_FLAG, { p: project.id, input: { key: 'by-viewer', kind: 'boolean' } }, viewer.auth)),
    ).toBe('FORBIDDEN');
    expect(await countFlags(project.id)).toBe(before);
    expect(
      errorCode(
        await gql(UPDATE_STATE, { flagId: flag.id, env: project.env.dev, v: 1, input: { on: true } }, viewer.auth),
      ),
    ).toBe('FORBIDDEN');
    expect(errorCode(await gql(KILL, { f: flag.id }, viewer.auth))).toBe('FORBIDDEN');
    expect(errorCode(await gql(UPDATE_FLAG, { id: flag.id, input: { name: 'v' } }, viewer.auth))).toBe('FORBIDDEN');
    expect(
      errorCode(await gql(PROMOTE, { f: flag.id, from: project.env.dev, to: [project.env.staging] }, viewer.auth)),
    ).toBe('FORBIDDEN');
    expect((await storedState(server, flag.id, project.env.dev!)).on).toBe(false);
  });

  it("a developer writes and deletes flags (the reference's Write group); a viewer cannot delete one", async () => {
    const developer = await givenMember(server.url, org, 'developer');
    const viewer = await givenMember(server.url, org, 'viewer');
    const flag = await givenFlag(server, developer as GivenOrg, project);
    await givenState(server, developer as GivenOrg, flag.id, project.env.dev!, { on: true });
    expect(errorCode(await gql(DELETE, { id: flag.id }, viewer.auth))).toBe('FORBIDDEN');
    expect((await server.sql('select id from flags where id = ?', [flag.id])).length).toBe(1);
    expect((await gql(DELETE, { id: flag.id }, developer.auth)).errors).toBeUndefined();
    expect((await server.sql('select id from flags where id = ?', [flag.id])).length).toBe(0);
  });

  it("nobody sees or changes another organization's flags", async () => {
    const flag = await givenFlag(server, org, project);
    const stranger = await givenOrg(server.url);
    expect(errorCode(await gql(UPDATE_FLAG, { id: flag.id, input: { name: 'mine' } }, stranger.auth))).toBe(
      'NOT_FOUND',
    );
    expect(errorCode(await gql(KILL, { f: flag.id }, stranger.auth))).toBe('NOT_FOUND');
    expect(
      errorCode(
        await gql(
          UPDATE_STATE,
          { projectId: project.id, flagKey: flag.key, env: project.env.dev, v: 1, input: { on: true } },
          stranger.auth,
        ),
      ),
    ).toBe('NOT_FOUND');
  });
});

describe('change notifications', () => {
  async function listen() {
    const client = new pg.Client({ connectionString: server.databaseUrl });
    await client.connect();
    const received: { environments: Record<string, number>; kind: string; flagKeys?: string[] }[] = [];
    client.on('notification', (n) => received.push(JSON.parse(n.payload!)));
    await client.query('LISTEN vexil_changes');
    return { received, close: () => client.end() };
  }

  it('announces a committed change with the environment, its new version, the kind and the flag key', async () => {
    const flag = await givenFlag(server, org, project);
    const bus = await listen();
    try {
      await givenState(server, org, flag.id, project.env.staging!, { on: true });
      const versions = await environmentVersions(server, [project.env.staging!]);
      await expect.poll(() => bus.received.length, { timeout: 5000 }).toBe(1);
      expect(bus.received[0]).toMatchObject({ environments: versions, kind: 'flag.state', flagKeys: [flag.key] });
    } finally {
      await bus.close();
    }
  });

  it('announces nothing for a change that fails validation', async () => {
    const flag = await givenFlag(server, org, project);
    const bus = await listen();
    try {
      const r = await gql(
        UPDATE_STATE,
        { flagId: flag.id, env: project.env.dev, v: 1, input: { prerequisites: [{ key: 'nope', variation: 0 }] } },
        org.auth,
      );
      expect(errorCode(r)).toBe('VALIDATION');
      // A later, valid change is the first thing heard: the refused one sent nothing.
      await givenState(server, org, flag.id, project.env.dev!, { on: true });
      await expect.poll(() => bus.received.length, { timeout: 5000 }).toBeGreaterThan(0);
      expect(bus.received.map((n) => n.kind)).toEqual(['flag.state']);
      expect(bus.received[0]!.flagKeys).toEqual([flag.key]);
    } finally {
      await bus.close();
    }
  });
});

describe('snapshot source', () => {
  it("loads an environment's live flags, segments and version, one or all at once", async () => {
    const p = await givenProject(server, org);
    const live = await givenFlag(server, org, p, {
      key: 'live',
      kind: 'string',
      variations: [{ value: 'a' }, { value: 'b' }],
    });
    const gone = await givenFlag(server, org, p, { key: 'gone' });
    await givenSegment(server, org, p, { key: 'beta', included: ['u1'] });
    await givenState(server, org, live.id, p.env.production!, { on: true, fallthrough: { variation: 1 } });
    expect((await gql(ARCHIVE, { id: gone.id }, org.auth)).errors).toBeUndefined();

    const em = server.orm.em.fork();
    const data = await loadEnvironmentData(em, p.env.production!);
    const [version] = Object.values(await environmentVersions(server, [p.env.production!]));
    expect(data).toEqual({
      version,
      flags: [
        {
          definition: {
            key: 'live',
            kind: 'string',
            variations: [{ value: 'a' }, { value: 'b' }],
            clientSideAvailable: false,
            tags: [],
            temporary: true,
          },
          state: {
            on: true,
            offVariation: 0,
            targets: [],
            rules: [],
            fallthrough: { variation: 1 },
            prerequisites: [],
            version: 2,
          },
        },
      ],
      segments: [{ key: 'beta', included: ['u1'], excluded: [], rules: [] }],
    });
    expect(await loadEnvironmentData(em, '00000000-0000-4000-8000-000000000000')).toBeNull();

    const all = await loadAllEnvironmentData(em);
    for (const key of ['dev', 'staging', 'production']) {
      expect(all.get(p.env[key]!)?.flags.map((f) => f.definition.key)).toEqual(['live']);
    }
    expect(all.get(p.env.production!)).toEqual(data);
    expect(all.get(p.env.dev!)?.flags[0]?.state.on).toBe(false);
  });
});

describe('flag lists with their environments', () => {
  it("load every listed flag's states in one query, not one per flag", async () => {
    const queries: string[] = [];
    const logged = await startServer(
      { MANAGEMENT_RATE_LIMIT: '10000' },
      { orm: { debug: ['query'], logger: (line: string) => queries.push(line) } },
    );
    const owner = await givenOrg(logged.url);
    const p = await givenProject(logged, owner);
    const flags = [];
    for (let i = 0; i < 4; i++) flags.push(await givenFlag(logged, owner, p, { key: `batched-${i}` }));
    await givenState(logged, owner, flags[2]!.id, p.env.dev!, { on: true });

    queries.length = 0;
    const r = await graphql(
      logged.url,
      'query($p: ID!) { project(id: $p) { flags(limit: 10) { data { key environments { environment { key } on } } } } }',
      { p: p.id },
      owner.auth,
    );
    expect(r.errors).toBeUndefined();
    const listed = r.data.project.flags.data as {
      key: string;
      environments: { environment: { key: string }; on: boolean }[];
    }[];
    expect(listed.map((f) => f.key).sort()).toEqual(['batched-0', 'batched-1', 'batched-2', 'batched-3']);
    for (const flag of listed) {
      expect(flag.environments.map((e) => e.environment.key)).toEqual(['dev', 'staging', 'production']);
      expect(flag.environments.find((e) => e.environment.key === 'dev')!.on).toBe(flag.key === 'batched-2');
    }
    const stateQueries = queries.filter((q) => /from "flag_states"/.test(q));
    expect(stateQueries).toHaveLength(1);
  });
});
