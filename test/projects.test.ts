import { beforeAll, describe, expect, it } from 'vitest';
import { errorCode, graphql } from './helpers/client.js';
import { type GivenOrg, givenMember, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' });
});

const gql = (query: string, variables: Record<string, unknown>, auth: Record<string, string> = {}) =>
  graphql(server.url, query, variables, auth);

const PROJECTS = `query($limit: Int, $offset: Int) { projects(limit: $limit, offset: $offset) {
  data { id slug name environments { key name sortOrder version } } total limit offset hasMore } }`;
const CREATE_PROJECT =
  'mutation($input: CreateProjectInput!) { createProject(input: $input) { id slug name environments { key } } }';
const DELETE_PROJECT = 'mutation($id: ID!) { deleteProject(id: $id) { id } }';
const CREATE_ENV =
  'mutation($p: ID!, $input: CreateEnvironmentInput!) { createEnvironment(projectId: $p, input: $input) { id key name sortOrder } }';
const DELETE_ENV = 'mutation($id: ID!) { deleteEnvironment(id: $id) { id } }';

const countProjects = async (orgId: string) =>
  Number(
    (await server.sql<{ n: string }>('select count(*) as n from projects where organization_id = ?', [orgId]))[0]!.n,
  );

async function defaultProjectId(org: GivenOrg): Promise<string> {
  const r = await gql('{ project(slug: "default") { id } }', {}, org.auth);
  return r.data.project.id;
}

describe('queries', () => {
  it('me, organization and the Default project with dev, staging, production', async () => {
    const org = await givenOrg(server.url, 'Query Co');
    const me = await gql('{ me { kind role user { email } permissions } organization { id slug name } }', {}, org.auth);
    expect(me.errors).toBeUndefined();
    expect(me.data.me).toMatchObject({ kind: 'member', role: 'owner', user: { email: org.email } });
    expect(me.data.me.permissions).toContain('project:delete');
    expect(me.data.organization).toMatchObject({ id: org.organizationId, name: 'Query Co' });

    const list = await gql(PROJECTS, {}, org.auth);
    expect(list.data.projects).toMatchObject({ total: 1, limit: 50, offset: 0, hasMore: false });
    expect(list.data.projects.data[0].slug).toBe('default');
    expect(list.data.projects.data[0].environments.map((e: { key: string }) => e.key)).toEqual([
      'dev',
      'staging',
      'production',
    ]);

    const byId = await gql(
      'query($id: ID!) { project(id: $id) { slug } }',
      { id: list.data.projects.data[0].id },
      org.auth,
    );
    expect(byId.data.project.slug).toBe('default');
  });

  it('answers UNAUTHENTICATED without a credential and with a bad one', async () => {
    const anonymous = await gql(PROJECTS, {});
    expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');
    expect(anonymous.data).toBeNull();
    const forged = await gql(PROJECTS, {}, { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad' });
    expect(forged.status).toBe(401);
    expect(errorCode(forged)).toBe('UNAUTHENTICATED');
  });

  it("keeps organizations apart: nobody sees or touches another organization's projects", async () => {
    const a = await givenOrg(server.url);
    const b = await givenOrg(server.url);
    const aProject = await defaultProjectId(a);
    const seenByB = await gql('query($id: ID!) { project(id: $id) { id } }', { id: aProject }, b.auth);
    expect(errorCode(seenByB)).toBe('NOT_FOUND');
    const listB = await gql(PROJECTS, {}, b.auth);
    expect(listB.data.projects.data.map((p: { id: string }) => p.id)).not.toContain(aProject);
    const deleteByB = await gql(DELETE_PROJECT, { id: aProject }, b.auth);
    expect(errorCode(deleteByB)).toBe('NOT_FOUND');
    expect(await countProjects(a.organizationId)).toBe(1);
  });
});

describe('pagination', () => {
  it('pages with limit and offset, reports total and hasMore, and refuses a limit over 100 with 400', async () => {
    const org = await givenOrg(server.url);
    for (let i = 0; i < 4; i++) {
      const r = await gql(CREATE_PROJECT, { input: { name: `Project ${i}` } }, org.auth);
      expect(r.errors).toBeUndefined();
    }
    const page = await gql(PROJECTS, { limit: 2, offset: 1 }, org.auth);
    expect(page.data.projects).toMatchObject({ total: 5, limit: 2, offset: 1, hasMore: true });
    expect(page.data.projects.data.map((p: { slug: string }) => p.slug)).toEqual(['project-0', 'project-1']);
    const last = await gql(PROJECTS, { limit: 2, offset: 4 }, org.auth);
    expect(last.data.projects).toMatchObject({ total: 5, hasMore: false });
    expect(last.data.projects.data).toHaveLength(1);

    const max = await gql(PROJECTS, { limit: 100 }, org.auth);
    expect(max.data.projects.limit).toBe(100);
    for (const limit of [101, 0, -1]) {
      const over = await gql(PROJECTS, { limit }, org.auth);
      expect(over.status).toBe(400);
      expect(errorCode(over)).toBe('VALIDATION');
    }
    expect(errorCode(await gql(PROJECTS, { offset: -1 }, org.auth))).toBe('VALIDATION');
  });
});

describe('project and environment mutations', () => {
  it('creates a project with dev, staging and production; updates and deletes it', async () => {
    const org = await givenOrg(server.url);
    const created = await gql(
      CREATE_PROJECT,
      { input: { name: 'Checkout Service', description: 'payments' } },
      org.auth,
    );
    expect(created.errors).toBeUndefined();
    expect(created.data.createProject).toMatchObject({ slug: 'checkout-service', name: 'Checkout Service' });
    expect(created.data.createProject.environments.map((e: { key: string }) => e.key)).toEqual([
      'dev',
      'staging',
      'production',
    ]);
    const id = created.data.createProject.id;

    const updated = await gql(
      'mutation($id: ID!) { updateProject(id: $id, input: { name: "Checkout" }) { name slug } }',
      { id },
      org.auth,
    );
    expect(updated.data.updateProject).toEqual({ name: 'Checkout', slug: 'checkout-service' });

    const dup = await gql(CREATE_PROJECT, { input: { name: 'Other', slug: 'checkout-service' } }, org.auth);
    expect(errorCode(dup)).toBe('CONFLICT');

    const deleted = await gql(DELETE_PROJECT, { id }, org.auth);
    expect(deleted.errors).toBeUndefined();
    expect(await countProjects(org.organizationId)).toBe(1);
    const envs = await server.sql('select 1 from environments where project_id = ?', [id]);
    expect(envs).toHaveLength(0);
    const audit = await server.sql<{ action: string }>(
      'select action from audit_entries where organization_id = ? order by created_at',
      [org.organizationId],
    );
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['project.created', 'project.updated', 'project.deleted']),
    );
  });

  it('creates environments with unique keys in order; refuses a duplicate or bad key without writing', async () => {
    const org = await givenOrg(server.url);
    const projectId = await defaultProjectId(org);
    const qa = await gql(CREATE_ENV, { p: projectId, input: { key: 'qa', name: 'QA', color: '#00ff00' } }, org.auth);
    expect(qa.errors).toBeUndefined();
    expect(qa.data.createEnvironment).toMatchObject({ key: 'qa', sortOrder: 3 });

    const dup = await gql(CREATE_ENV, { p: projectId, input: { key: 'dev', name: 'Dev again' } }, org.auth);
    expect(errorCode(dup)).toBe('CONFLICT');
    const bad = await gql(CREATE_ENV, { p: projectId, input: { key: 'Has Spaces', name: 'x' } }, org.auth);
    expect(errorCode(bad)).toBe('VALIDATION');
    const badColor = await gql(CREATE_ENV, { p: projectId, input: { key: 'ok', name: 'x', color: 'red' } }, org.auth);
    expect(errorCode(badColor)).toBe('VALIDATION');

    const project = await gql(
      'query($id: ID!) { project(id: $id) { environments { key } } }',
      { id: projectId },
      org.auth,
    );
    expect(project.data.project.environments.map((e: { key: string }) => e.key)).toEqual([
      'dev',
      'staging',
      'production',
      'qa',
    ]);

    const moved = await gql(
      'mutation($id: ID!) { updateEnvironment(id: $id, input: { sortOrder: 0, name: "Quality" }) { name sortOrder } }',
      { id: qa.data.createEnvironment.id },
      org.auth,
    );
    expect(moved.data.updateEnvironment).toEqual({ name: 'Quality', sortOrder: 0 });
    const removed = await gql(DELETE_ENV, { id: qa.data.createEnvironment.id }, org.auth);
    expect(removed.errors).toBeUndefined();
    expect(await server.sql('select 1 from environments where id = ?', [qa.data.createEnvironment.id])).toHaveLength(0);
  });
});

describe('roles', () => {
  it('a viewer reads but cannot create or delete: FORBIDDEN and nothing changes', async () => {
    const org = await givenOrg(server.url);
    const viewer = await givenMember(server.url, org, 'viewer');
    const projectId = await defaultProjectId(org);

    const read = await gql(PROJECTS, {}, viewer.auth);
    expect(read.errors).toBeUndefined();
    expect(read.data.projects.total).toBe(1);

    const create = await gql(CREATE_PROJECT, { input: { name: 'Nope' } }, viewer.auth);
    expect(errorCode(create)).toBe('FORBIDDEN');
    const createEnv = await gql(CREATE_ENV, { p: projectId, input: { key: 'nope', name: 'Nope' } }, viewer.auth);
    expect(errorCode(createEnv)).toBe('FORBIDDEN');
    const del = await gql(DELETE_PROJECT, { id: projectId }, viewer.auth);
    expect(errorCode(del)).toBe('FORBIDDEN');
    expect(await countProjects(org.organizationId)).toBe(1);
    expect(await server.sql('select 1 from environments where key = ?', ['nope'])).toHaveLength(0);
  });

  it('a developer creates and updates but cannot delete', async () => {
    const org = await givenOrg(server.url);
    const dev = await givenMember(server.url, org, 'developer');
    const created = await gql(CREATE_PROJECT, { input: { name: 'Dev Made' } }, dev.auth);
    expect(created.errors).toBeUndefined();
    const env = await gql(CREATE_ENV, { p: created.data.createProject.id, input: { key: 'qa', name: 'QA' } }, dev.auth);
    expect(env.errors).toBeUndefined();
    const delEnv = await gql(DELETE_ENV, { id: env.data.createEnvironment.id }, dev.auth);
    expect(errorCode(delEnv)).toBe('FORBIDDEN');
    const del = await gql(DELETE_PROJECT, { id: created.data.createProject.id }, dev.auth);
    expect(errorCode(del)).toBe('FORBIDDEN');
    expect(await countProjects(org.organizationId)).toBe(2);
  });

  it('an admin deletes', async () => {
    const org = await givenOrg(server.url);
    const admin = await givenMember(server.url, org, 'admin');
    const created = await gql(CREATE_PROJECT, { input: { name: 'Admin Made' } }, admin.auth);
    const del = await gql(DELETE_PROJECT, { id: created.data.createProject.id }, admin.auth);
    expect(del.errors).toBeUndefined();
    expect(await countProjects(org.organizationId)).toBe(1);
  });

  it('only an owner grants the owner role, and the last owner cannot be demoted', async () => {
    const org = await givenOrg(server.url);
    const admin = await givenMember(server.url, org, 'admin');
    const promote = await gql(
      'mutation($u: ID!) { updateMemberRole(userId: $u, role: owner) { role } }',
      { u: admin.userId },
      admin.auth,
    );
    expect(errorCode(promote)).toBe('FORBIDDEN');
    const demoteOwner = await gql(
      'mutation($u: ID!) { updateMemberRole(userId: $u, role: admin) { role } }',
      { u: org.userId },
      org.auth,
    );
    expect(errorCode(demoteOwner)).toBe('CONFLICT');
    const [row] = await server.sql<{ role: string }>(
      'select role from memberships where user_id = ? and organization_id = ?',
      [org.userId, org.organizationId],
    );
    expect(row?.role).toBe('owner');
  });

  it('a demoted member loses the permission on the next request; a removed one is signed out', async () => {
    const org = await givenOrg(server.url);
    const dev = await givenMember(server.url, org, 'developer');
    await gql('mutation($u: ID!) { updateMemberRole(userId: $u, role: viewer) { role } }', { u: dev.userId }, org.auth);
    expect(errorCode(await gql(CREATE_PROJECT, { input: { name: 'After demotion' } }, dev.auth))).toBe('FORBIDDEN');
    await gql('mutation($u: ID!) { removeMember(userId: $u) { role } }', { u: dev.userId }, org.auth);
    expect(errorCode(await gql(PROJECTS, {}, dev.auth))).toBe('UNAUTHENTICATED');
  });
});
