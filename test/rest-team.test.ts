import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { rolesFor } from '../src/rest/plugin.js';
import { bearer, graphql } from './helpers/client.js';
import { givenAccessToken } from './helpers/credentials.js';
import { givenOrg } from './helpers/givens.js';
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

/** A person who joins the organization as a viewer (a fresh target for role changes). */
async function givenViewer() {
  const person = await givenOrg(server.url);
  const added = await graphql(
    server.url,
    'mutation($e: String!) { addMember(email: $e, role: viewer) { role } }',
    { e: person.email },
    team.org.auth,
  );
  expect(added.errors).toBeUndefined();
  return person;
}
const roleOf = async (userId: string) =>
  (
    await server.sql<{ role: string }>('select role from memberships where user_id = ? and organization_id = ?', [
      userId,
      team.org.organizationId,
    ])
  )[0]?.role;

describe('the role table of the reference', () => {
  it('every role reads the audit log and the members; owners and admins change and remove members; tokens are for developers up', () => {
    expect(rolesFor(routeNamed('listAudit'))).toEqual(GROUPS.read);
    expect(rolesFor(routeNamed('listMembers'))).toEqual(GROUPS.read);
    expect(rolesFor(routeNamed('updateMember'))).toEqual(GROUPS.admin);
    expect(rolesFor(routeNamed('removeMember'))).toEqual(GROUPS.admin);
    for (const name of ['listAccessTokens', 'createAccessToken', 'updateAccessToken', 'deleteAccessToken']) {
      expect(rolesFor(routeNamed(name)), name).toEqual(GROUPS.write);
    }
  });
});

describe('GET /v1/audit', () => {
  it('every role reads the organization’s changes, newest first, filtered as asked', async () => {
    const made = await call('POST', `/v1/projects/${team.projectId}/flags`, team.as.developer.auth, {
      key: `f-${hex()}`,
    });
    const state = await call(
      'PUT',
      `/v1/projects/default/flags/${made.body.key}/environments/${team.env.staging}`,
      team.as.developer.auth,
      { version: 1, enabled: true },
    );
    expect(state.status).toBe(200);
    await forEveryRole(
      team,
      'listAudit',
      async () => undefined,
      (person) => call('GET', `/v1/audit?resource_id=${made.body.id}`, person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({ total: 2, limit: 50, offset: 0, has_more: false });
        expect(res.body.data.map((e: { action: string }) => e.action)).toEqual(['flag.state.updated', 'flag.created']);
        const [latest] = res.body.data;
        expect(latest).toMatchObject({
          resource_type: 'flag',
          resource_id: made.body.id,
          project_id: team.projectId,
          environment_id: team.env.staging,
          actor_type: 'member',
          actor_id: team.as.developer.userId,
          actor_token_id: null,
        });
        expect(latest.metadata.key).toBe(made.body.key);
        expect(latest.created_at).toMatch(RFC3339_UTC);
      },
    );
    const total = async (query: string) => (await call('GET', `/v1/audit?${query}`, team.org.auth)).body.total;
    expect(await total(`resource_id=${made.body.id}&action=flag.created`)).toBe(1);
    expect(await total(`resource_id=${made.body.id}&environment_id=${team.env.staging}`)).toBe(1);
    expect(await total(`resource_id=${made.body.id}&actor_id=${team.org.userId}`)).toBe(0);
    expect(await total(`project_id=${team.projectId}&resource_type=flag&resource_id=${made.body.id}`)).toBe(2);
    expect(await total(`resource_id=${made.body.id}&limit=1`)).toBe(2);
    expectEnvelope(await call('GET', '/v1/audit?project_id=default', team.org.auth), 400, /project_id/);
    // Another organization's log holds none of it.
    expect((await call('GET', `/v1/audit?resource_id=${made.body.id}`, team.stranger.auth)).body.total).toBe(0);
  });

  it('reads the same through GraphQL', async () => {
    const rest = (await call('GET', '/v1/audit?limit=5', team.as.viewer.auth)).body;
    const seen = await graphql(
      server.url,
      '{ auditLog(limit: 5) { total data { id action resourceType resourceId projectId environmentId principalKind actorUserId actorTokenId details createdAt } } }',
      {},
      team.as.viewer.auth,
    );
    expect(
      rest.data.map((e: any) => ({
        id: e.id,
        action: e.action,
        resourceType: e.resource_type,
        resourceId: e.resource_id,
        projectId: e.project_id,
        environmentId: e.environment_id,
        principalKind: e.actor_type,
        actorUserId: e.actor_id,
        actorTokenId: e.actor_token_id,
        details: e.metadata,
        createdAt: e.created_at,
      })),
    ).toEqual(seen.data.auditLog.data);
  });
});

describe('members', () => {
  it('GET /v1/members: every role lists them', async () => {
    await forEveryRole(
      team,
      'listMembers',
      async () => undefined,
      (person) => call('GET', '/v1/members', person.auth),
      (_role, _allowed, res) => {
        const owner = res.body.data.find((m: { id: string }) => m.id === team.org.userId);
        expect(owner).toMatchObject({ user_id: team.org.userId, email: team.org.email, role: 'owner' });
        expect(owner.joined_at).toMatch(RFC3339_UTC);
        expect(res.body.total).toBeGreaterThanOrEqual(4);
      },
    );
  });

  it('PUT /v1/members/{id}: owners and admins change a role; developers and viewers 403, unchanged', async () => {
    await forEveryRole(
      team,
      'updateMember',
      () => givenViewer(),
      (person, target) => call('PUT', `/v1/members/${target.userId}`, person.auth, { role: 'developer' }),
      async (_role, allowed, res, target) => {
        expect(await roleOf(target.userId)).toBe(allowed ? 'developer' : 'viewer');
        if (allowed) expect(res.body).toMatchObject({ id: target.userId, email: target.email, role: 'developer' });
      },
    );
    const target = await givenViewer();
    expectEnvelope(
      await call('PUT', `/v1/members/${target.userId}`, team.as.admin.auth, { role: 'owner' }),
      403,
      /only an owner/,
    );
    expectEnvelope(
      await call('PUT', `/v1/members/${target.userId}`, team.org.auth, { role: 'boss' }),
      400,
      'field "role" must be one of owner, admin, developer, viewer',
    );
    expect(await roleOf(target.userId)).toBe('viewer');
  });

  it('DELETE /v1/members/{id}: owners and admins remove a member; developers and viewers 403, still a member', async () => {
    await forEveryRole(
      team,
      'removeMember',
      () => givenViewer(),
      (person, target) => call('DELETE', `/v1/members/${target.userId}`, person.auth),
      async (_role, allowed, _res, target) => {
        expect(await roleOf(target.userId)).toBe(allowed ? undefined : 'viewer');
      },
    );
  });

  it('another organization’s member is not found (404) and stays', async () => {
    const target = await givenViewer();
    expectEnvelope(await call('PUT', `/v1/members/${target.userId}`, team.stranger.auth, { role: 'admin' }), 404);
    expectEnvelope(await call('DELETE', `/v1/members/${target.userId}`, team.stranger.auth), 404);
    expect(await roleOf(target.userId)).toBe('viewer');
  });

  it('a role changed through GraphQL reads the same through REST', async () => {
    const target = await givenViewer();
    const changed = await graphql(
      server.url,
      'mutation($u: ID!) { updateMemberRole(userId: $u, role: admin) { role joinedAt user { id email name } } }',
      { u: target.userId },
      team.org.auth,
    );
    const g = changed.data.updateMemberRole;
    const listed = (await call('GET', '/v1/members?limit=100', team.org.auth)).body.data.find(
      (m: { id: string }) => m.id === target.userId,
    );
    expect(listed).toEqual({
      id: g.user.id,
      user_id: g.user.id,
      email: g.user.email,
      name: g.user.name,
      role: g.role,
      joined_at: g.joinedAt,
    });
  });
});

describe('access tokens', () => {
  /** A service token the owner made, that can do nothing a developer cannot. */
  async function givenServiceToken() {
    const made = await givenAccessToken(server.url, team.org.auth, {
      kind: 'SERVICE',
      name: `svc-${hex()}`,
      permissions: ['project:read'],
    });
    expect(made.errors).toBeUndefined();
    return made.data.createAccessToken as { value: string; token: { id: string } };
  }
  const tokenRow = async (id: string) =>
    (
      await server.sql<{ name: string; active: boolean }>('select name, active from access_tokens where id = ?', [id])
    )[0];

  it('GET /v1/access-tokens: developers and up list them masked; viewers 403', async () => {
    const token = await givenServiceToken();
    await forEveryRole(
      team,
      'listAccessTokens',
      async () => undefined,
      (person) => call('GET', '/v1/access-tokens?limit=100', person.auth),
      (_role, allowed, res) => {
        if (!allowed) return;
        const listed = res.body.data.find((t: { id: string }) => t.id === token.token.id);
        expect(listed).toMatchObject({
          kind: 'service',
          permissions: ['project:read'],
          active: true,
          environment_ids: null,
        });
        expect(listed.masked).toMatch(/^vx_sat_…/);
        expect(JSON.stringify(res.body)).not.toContain(token.value);
      },
    );
  });

  it('POST /v1/access-tokens: developers and up create one, shown once, that works on the REST API at once; viewers 403', async () => {
    await forEveryRole(
      team,
      'createAccessToken',
      async () => `pat-${hex()}`,
      (person, name) =>
        call('POST', '/v1/access-tokens', person.auth, { name, kind: 'personal', permissions: ['project:read'] }),
      async (_role, allowed, res, name) => {
        expect((await server.sql('select id from access_tokens where name = ?', [name])).length).toBe(allowed ? 1 : 0);
        if (!allowed) return;
        expect(res.body).toMatchObject({ name, kind: 'personal', permissions: ['project:read'], active: true });
        expect(res.body.token).toMatch(/^vx_pat_/);
        expect((await call('GET', '/v1/projects', bearer(res.body.token))).status).toBe(200);
        expect((await call('GET', '/v1/projects', { 'api-key': res.body.token })).status).toBe(200);
        expectEnvelope(await call('GET', '/v1/members', bearer(res.body.token)), 403, 'Insufficient permissions');
      },
    );
    expectEnvelope(
      await call('POST', '/v1/access-tokens', team.as.developer.auth, {
        name: 'too much',
        kind: 'service',
        permissions: ['member:manage'],
      }),
      403,
    );
  });

  it('PUT /v1/access-tokens/{id}: developers and up rename and deactivate (it then answers 403); viewers 403, unchanged', async () => {
    await forEveryRole(
      team,
      'updateAccessToken',
      () => givenServiceToken(),
      (person, token) =>
        call('PUT', `/v1/access-tokens/${token.token.id}`, person.auth, { name: 'renamed', active: false }),
      async (_role, allowed, res, token) => {
        expect((await tokenRow(token.token.id))?.active).toBe(!allowed);
        const used = await call('GET', '/v1/projects', bearer(token.value));
        expect(used.status).toBe(allowed ? 403 : 200);
        if (allowed) expect(res.body).toMatchObject({ name: 'renamed', active: false });
      },
    );
  });

  it('DELETE /v1/access-tokens/{id}: developers and up delete one (it then answers 401); viewers 403', async () => {
    await forEveryRole(
      team,
      'deleteAccessToken',
      () => givenServiceToken(),
      (person, token) => call('DELETE', `/v1/access-tokens/${token.token.id}`, person.auth),
      async (_role, allowed, _res, token) => {
        expect(await tokenRow(token.token.id)).toEqual(allowed ? undefined : expect.any(Object));
        expect((await call('GET', '/v1/projects', bearer(token.value))).status).toBe(allowed ? 401 : 200);
      },
    );
  });

  it('another organization’s token is not found (404) and stays', async () => {
    const token = await givenServiceToken();
    expectEnvelope(
      await call('PUT', `/v1/access-tokens/${token.token.id}`, team.stranger.auth, { active: false }),
      404,
    );
    expectEnvelope(await call('DELETE', `/v1/access-tokens/${token.token.id}`, team.stranger.auth), 404);
    expect(await tokenRow(token.token.id)).toMatchObject({ active: true });
  });
});
