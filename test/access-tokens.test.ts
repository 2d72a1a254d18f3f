import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import jwt from 'jsonwebtoken';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorCode, graphql, request } from './helpers/client.js';
import { environmentsOf, givenAccessToken } from './helpers/credentials.js';
import { givenMember, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let logs = '';
beforeAll(async () => {
  const logStream = new Writable({
    write(chunk, _enc, done) {
      logs += chunk.toString();
      done();
    },
  });
  server = await startServer(
    { AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000', LOG_LEVEL: 'trace' },
    { logStream },
  );
});

const gql = (query: string, variables: Record<string, unknown>, headers: Record<string, string>) =>
  graphql(server.url, query, variables, headers);
const CREATE_PROJECT = 'mutation($n: String!) { createProject(input: { name: $n }) { id } }';
const PROJECTS = '{ projects { total } }';
const apiKey = (value: string) => ({ 'api-key': value });
const bearerKey = (value: string) => ({ authorization: `Bearer ${value}` });

describe('personal and service access tokens', () => {
  it('creates a token shown once, stored as a hash, and usable as Bearer or API-KEY', async () => {
    const org = await givenOrg(server.url);
    const created = await givenAccessToken(server.url, org.auth, {
      kind: 'PERSONAL',
      permissions: ['project:read', 'project:write'],
    });
    expect(created.errors).toBeUndefined();
    const value: string = created.data.createAccessToken.value;
    expect(value).toMatch(/^vx_pat_/);
    expect((await gql(PROJECTS, {}, bearerKey(value))).data.projects.total).toBe(1);
    expect((await gql(PROJECTS, {}, apiKey(value))).data.projects.total).toBe(1);
    const made = await gql(CREATE_PROJECT, { n: 'Via Token' }, apiKey(value));
    expect(made.errors).toBeUndefined();

    const rows = await server.sql<{ token_hash: string }>('select token_hash from access_tokens where id = ?', [
      created.data.createAccessToken.token.id,
    ]);
    expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    const list = await gql(
      '{ accessTokens { total data { id name masked kind permissions active owner { email } } } }',
      {},
      org.auth,
    );
    expect(list.data.accessTokens.total).toBe(1);
    expect(list.data.accessTokens.data[0].masked).toBe(`vx_pat_…${value.slice(-4)}`);
    // Nobody can read the value again: not the list, not the database, not the logs.
    expect(JSON.stringify(list)).not.toContain(value);
    expect(JSON.stringify(await server.sql('select * from access_tokens'))).not.toContain(value);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(value);
    expect(logs).not.toContain(org.accessToken);
  });

  it('a personal token is downgraded at once when its owner is demoted, and dead when the owner is removed', async () => {
    const org = await givenOrg(server.url);
    const dev = await givenMember(server.url, org, 'developer');
    const created = await givenAccessToken(server.url, dev.auth, {
      kind: 'PERSONAL',
      permissions: ['project:read', 'project:write'],
    });
    const value = created.data.createAccessToken.value as string;
    expect((await gql(CREATE_PROJECT, { n: 'Before' }, apiKey(value))).errors).toBeUndefined();

    await gql('mutation($u: ID!) { updateMemberRole(userId: $u, role: viewer) { role } }', { u: dev.userId }, org.auth);
    expect(errorCode(await gql(CREATE_PROJECT, { n: 'After demotion' }, apiKey(value)))).toBe('FORBIDDEN');
    expect((await gql(PROJECTS, {}, apiKey(value))).errors).toBeUndefined();

    await gql('mutation($u: ID!) { removeMember(userId: $u) { role } }', { u: dev.userId }, org.auth);
    const dead = await gql(PROJECTS, {}, apiKey(value));
    expect(dead.status).toBe(403);
    expect(errorCode(dead)).toBe('FORBIDDEN');
  });

  it('a service token cannot exceed its creator, and keeps its scopes when the creator is demoted', async () => {
    const org = await givenOrg(server.url);
    const dev = await givenMember(server.url, org, 'developer');
    const tooMuch = await givenAccessToken(server.url, dev.auth, {
      kind: 'SERVICE',
      permissions: ['project:write', 'project:delete'],
    });
    expect(errorCode(tooMuch)).toBe('FORBIDDEN');
    expect(
      await server.sql('select 1 from access_tokens where organization_id = ?', [org.organizationId]),
    ).toHaveLength(0);

    const ok = await givenAccessToken(server.url, dev.auth, {
      kind: 'SERVICE',
      permissions: ['project:read', 'project:write'],
    });
    expect(ok.errors).toBeUndefined();
    const value = ok.data.createAccessToken.value as string;
    expect(value).toMatch(/^vx_sat_/);
    await gql('mutation($u: ID!) { updateMemberRole(userId: $u, role: viewer) { role } }', { u: dev.userId }, org.auth);
    expect((await gql(CREATE_PROJECT, { n: 'Service still writes' }, apiKey(value))).errors).toBeUndefined();
    await gql('mutation($u: ID!) { removeMember(userId: $u) { role } }', { u: dev.userId }, org.auth);
    expect((await gql(CREATE_PROJECT, { n: 'Even after removal' }, apiKey(value))).errors).toBeUndefined();
  });

  it('inactive → 403, active again → works, deleted → 401; rename keeps it working', async () => {
    const org = await givenOrg(server.url);
    const created = await givenAccessToken(server.url, org.auth, { kind: 'SERVICE', permissions: ['project:read'] });
    const { value, token } = created.data.createAccessToken;
    const update =
      'mutation($id: ID!, $i: UpdateAccessTokenInput!) { updateAccessToken(id: $id, input: $i) { name active } }';
    expect((await gql(update, { id: token.id, i: { name: 'Renamed' } }, org.auth)).data.updateAccessToken).toEqual({
      name: 'Renamed',
      active: true,
    });
    await gql(update, { id: token.id, i: { active: false } }, org.auth);
    const inactive = await gql(PROJECTS, {}, apiKey(value));
    expect(inactive.status).toBe(403);
    await gql(update, { id: token.id, i: { active: true } }, org.auth);
    expect((await gql(PROJECTS, {}, apiKey(value))).errors).toBeUndefined();
    expect(
      (await gql('mutation($id: ID!) { deleteAccessToken(id: $id) { id } }', { id: token.id }, org.auth)).errors,
    ).toBeUndefined();
    const deleted = await gql(PROJECTS, {}, apiKey(value));
    expect(deleted.status).toBe(401);
    expect(errorCode(deleted)).toBe('UNAUTHENTICATED');
  });

  it("admins may delete another member's token but never see its value", async () => {
    const org = await givenOrg(server.url);
    const dev = await givenMember(server.url, org, 'developer');
    const admin = await givenMember(server.url, org, 'admin');
    const created = await givenAccessToken(server.url, dev.auth, { kind: 'PERSONAL', permissions: ['project:read'] });
    const { value, token } = created.data.createAccessToken;
    const seen = await gql('{ accessTokens { data { id masked } } }', {}, admin.auth);
    expect(JSON.stringify(seen)).not.toContain(value);
    const rename = await gql(
      'mutation($id: ID!) { updateAccessToken(id: $id, input: { name: "x" }) { name } }',
      { id: token.id },
      admin.auth,
    );
    expect(errorCode(rename)).toBe('FORBIDDEN');
    expect(
      (await gql('mutation($id: ID!) { deleteAccessToken(id: $id) { id } }', { id: token.id }, admin.auth)).errors,
    ).toBeUndefined();
    expect((await gql(PROJECTS, {}, apiKey(value))).status).toBe(401);
  });

  it('a read-only token can query, and every mutation answers FORBIDDEN', async () => {
    const org = await givenOrg(server.url);
    const created = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['org:read', 'project:read', 'flag:read', 'member:read', 'audit:read'],
    });
    const value = created.data.createAccessToken.value as string;
    expect((await gql(PROJECTS, {}, apiKey(value))).errors).toBeUndefined();
    const envs = await environmentsOf(server.url, { auth: apiKey(value) });
    const mutations: [string, Record<string, unknown>][] = [
      [CREATE_PROJECT, { n: 'x' }],
      ['mutation($id: ID!) { deleteProject(id: $id) { id } }', { id: envs.projectId }],
      [
        'mutation($p: ID!) { createEnvironment(projectId: $p, input: { key: "qa", name: "QA" }) { id } }',
        { p: envs.projectId },
      ],
      ['mutation($e: ID!) { updateEnvironment(id: $e, input: { name: "x" }) { id } }', { e: envs.byKey.dev!.id }],
      ['mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER) { value } }', { e: envs.byKey.dev!.id }],
      [
        'mutation { createAccessToken(input: { name: "x", kind: SERVICE, permissions: ["project:read"] }) { value } }',
        {},
      ],
      ['mutation { addMember(email: "a@b.co", role: viewer) { role } }', {}],
      ['mutation { rotateSsoSecret }', {}],
    ];
    for (const [query, variables] of mutations) {
      const r = await gql(query, variables, apiKey(value));
      expect(errorCode(r), query).toBe('FORBIDDEN');
    }
    expect(await server.sql("select 1 from environments where key = 'qa'")).toHaveLength(0);
  });

  it('an environment-narrowed token can change dev but not production', async () => {
    const org = await givenOrg(server.url);
    const envs = await environmentsOf(server.url, org);
    const created = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['project:read', 'environment:write', 'sdkkey:manage', 'sdkkey:read'],
      environmentIds: [envs.byKey.dev!.id],
    });
    expect(created.errors).toBeUndefined();
    const value = created.data.createAccessToken.value as string;
    const update = 'mutation($e: ID!) { updateEnvironment(id: $e, input: { name: "Renamed" }) { name } }';
    expect((await gql(update, { e: envs.byKey.dev!.id }, apiKey(value))).data.updateEnvironment.name).toBe('Renamed');
    expect(errorCode(await gql(update, { e: envs.byKey.production!.id }, apiKey(value)))).toBe('FORBIDDEN');
    const key = 'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER) { value } }';
    expect((await gql(key, { e: envs.byKey.dev!.id }, apiKey(value))).errors).toBeUndefined();
    expect(errorCode(await gql(key, { e: envs.byKey.production!.id }, apiKey(value)))).toBe('FORBIDDEN');
    const [prod] = await server.sql<{ name: string }>('select name from environments where id = ?', [
      envs.byKey.production!.id,
    ]);
    expect(prod!.name).toBe('Production');
  });

  it('answers 401 for an unknown or malformed token', async () => {
    for (const bad of [`vx_pat_${'a'.repeat(36)}`, 'garbage']) {
      const r = await gql(PROJECTS, {}, apiKey(bad));
      expect(r.status).toBe(401);
      expect(errorCode(r)).toBe('UNAUTHENTICATED');
    }
  });
});

describe('acting on behalf of a member', () => {
  async function setup() {
    const org = await givenOrg(server.url);
    const viewer = await givenMember(server.url, org, 'viewer');
    const dev = await givenMember(server.url, org, 'developer');
    const secret = (await gql('mutation { rotateSsoSecret }', {}, org.auth)).data.rotateSsoSecret as string;
    const token = await givenAccessToken(server.url, org.auth, {
      kind: 'SERVICE',
      permissions: ['project:read', 'project:write', 'audit:read'],
    });
    return {
      org,
      viewer,
      dev,
      secret,
      token: token.data.createAccessToken as { value: string; token: { id: string } },
    };
  }
  const sso = (secret: string, claims: Record<string, unknown>, expiresIn = 300) =>
    jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn, jwtid: randomUUID() });

  it('acts with token ∩ member and is audited as both', async () => {
    const { org, viewer, dev, secret, token } = await setup();
    // An SSO JWT works once: each request carries a new one.
    const asViewer = () => ({
      'api-key': token.value,
      authorization: `Bearer ${sso(secret, { email: viewer.email })}`,
    });
    expect((await gql(PROJECTS, {}, asViewer())).errors).toBeUndefined();
    expect(errorCode(await gql(CREATE_PROJECT, { n: 'Viewer cannot' }, asViewer()))).toBe('FORBIDDEN');

    const asDev = () => ({ 'api-key': token.value, authorization: `Bearer ${sso(secret, { sub: dev.userId })}` });
    const made = await gql(CREATE_PROJECT, { n: 'On Behalf' }, asDev());
    expect(made.errors).toBeUndefined();
    const me = await gql('{ me { kind user { email } } }', {}, asDev());
    expect(me.data.me).toEqual({ kind: 'on-behalf', user: { email: dev.email } });
    const [entry] = await server.sql<{ actor_user_id: string; actor_token_id: string; principal_kind: string }>(
      "select actor_user_id, actor_token_id, principal_kind from audit_entries where organization_id = ? and action = 'project.created'",
      [org.organizationId],
    );
    expect(entry).toEqual({ actor_user_id: dev.userId, actor_token_id: token.token.id, principal_kind: 'on-behalf' });
  });

  it('refuses a forged, expired or unsigned SSO JWT with 401', async () => {
    const { viewer, secret, token } = await setup();
    const forged = sso('not-the-secret-at-all', { email: viewer.email });
    const expired = jwt.sign({ email: viewer.email, exp: Math.floor(Date.now() / 1000) - 60 }, secret, {
      algorithm: 'HS256',
    });
    const noExpiry = jwt.sign({ email: viewer.email }, secret, { algorithm: 'HS256' });
    for (const bad of [forged, expired, noExpiry, 'eyJhbGciOiJub25lIn0.eyJlbWFpbCI6IngifQ.']) {
      const r = await gql(PROJECTS, {}, { 'api-key': token.value, authorization: `Bearer ${bad}` });
      expect(r.status).toBe(401);
      expect(errorCode(r)).toBe('UNAUTHENTICATED');
    }
  });

  it('POST /v1/auth/sso exchanges an SSO JWT for a session, provisioning a new email as viewer', async () => {
    const { org, secret } = await setup();
    const email = `sso-${Date.now()}@example.com`;
    const res = await request(server.url, 'POST', '/v1/auth/sso', {
      body: { token: sso(secret, { email, name: 'Sso Person', org: org.slug }) },
    });
    expect(res.status).toBe(200);
    expect(res.body.user.email).toBe(email);
    const me = await gql(
      '{ me { role user { email } } }',
      {},
      { authorization: `Bearer ${res.body.tokens.access_token}` },
    );
    expect(me.data.me).toEqual({ role: 'viewer', user: { email } });
    const forged = await request(server.url, 'POST', '/v1/auth/sso', {
      body: { token: sso('wrong-secret-wrong', { email, org: org.slug }) },
    });
    expect(forged.status).toBe(401);
    expect(forged.body.request_id).toBeTruthy();
  });
});
