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

async function givenProject(name = `Project ${hex()}`) {
  const res = await call('POST', '/v1/projects', team.org.auth, { name });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; slug: string; name: string };
}
const projectRows = async (id: string) => (await server.sql('select id from projects where id = ?', [id])).length;
const environmentRows = async (id: string) =>
  (await server.sql('select id from environments where id = ?', [id])).length;

describe('the role table of the reference', () => {
  it('projects and environments: Read for every role, Write for developers up, Admin deletes', () => {
    expect(rolesFor(routeNamed('listProjects'))).toEqual(GROUPS.read);
    expect(rolesFor(routeNamed('getProject'))).toEqual(GROUPS.read);
    expect(rolesFor(routeNamed('listEnvironments'))).toEqual(GROUPS.read);
    expect(rolesFor(routeNamed('createProject'))).toEqual(GROUPS.write);
    expect(rolesFor(routeNamed('createEnvironment'))).toEqual(GROUPS.write);
    expect(rolesFor(routeNamed('deleteProject'))).toEqual(GROUPS.admin);
    expect(rolesFor(routeNamed('deleteEnvironment'))).toEqual(GROUPS.admin);
  });
});

describe('projects', () => {
  it('GET /v1/projects: every role lists the organization’s projects in the page envelope', async () => {
    await forEveryRole(
      team,
      'listProjects',
      async () => undefined,
      (person) => call('GET', '/v1/projects', person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({ limit: 50, offset: 0, has_more: false });
        expect(res.body.total).toBe(res.body.data.length);
        const project = res.body.data.find((p: { slug: string }) => p.slug === 'default');
        expect(Object.keys(project).sort()).toEqual(['created_at', 'description', 'id', 'name', 'slug', 'updated_at']);
        expect(project.created_at).toMatch(RFC3339_UTC);
        expect(res.headers.get('cache-control')).toBe('private, no-cache');
      },
    );
  });

  it('GET /v1/projects/{id}: by id and by slug, for every role', async () => {
    await forEveryRole(
      team,
      'getProject',
      async () => undefined,
      (person) => call('GET', `/v1/projects/${team.projectId}`, person.auth),
      async (role, _allowed, res) => {
        expect(res.body).toMatchObject({ id: team.projectId, slug: 'default', name: 'Default' });
        const bySlug = await call('GET', '/v1/projects/default', team.as[role].auth);
        expect(bySlug.body).toEqual(res.body);
      },
    );
  });

  it('POST /v1/projects: developers and up create (201, with three environments); a viewer is refused and nothing is written', async () => {
    await forEveryRole(
      team,
      'createProject',
      async () => `made-by-${hex()}`,
      (person, slug) => call('POST', '/v1/projects', person.auth, { name: 'Made', slug, description: 'by REST' }),
      async (_role, allowed, res, slug) => {
        const rows = await server.sql('select id from projects where slug = ?', [slug]);
        expect(rows.length).toBe(allowed ? 1 : 0);
        if (!allowed) return;
        expect(res.body).toMatchObject({ slug, name: 'Made', description: 'by REST' });
        const envs = await call('GET', `/v1/projects/${slug}/environments`, team.org.auth);
        expect(envs.body.data.map((e: { slug: string }) => e.slug)).toEqual(['dev', 'staging', 'production']);
      },
    );
  });

  it('DELETE /v1/projects/{id}: owners and admins delete (204); developers and viewers get 403 and the project stays', async () => {
    await forEveryRole(
      team,
      'deleteProject',
      () => givenProject(),
      (person, project) => call('DELETE', `/v1/projects/${project.slug}`, person.auth),
      async (_role, allowed, res, project) => {
        expect(await projectRows(project.id)).toBe(allowed ? 0 : 1);
        if (allowed) expect(res.body).toBeUndefined();
      },
    );
  });

  it('a slug already taken is a 409 conflict; a bad slug a 400', async () => {
    const project = await givenProject();
    expectEnvelope(await call('POST', '/v1/projects', team.org.auth, { name: 'Again', slug: project.slug }), 409);
    expectEnvelope(await call('POST', '/v1/projects', team.org.auth, { name: 'Bad', slug: 'Not A Slug' }), 400, /slug/);
  });
});

describe('environments', () => {
  it('GET /v1/projects/{id}/environments: every role, in display order, paged', async () => {
    await forEveryRole(
      team,
      'listEnvironments',
      async () => undefined,
      (person) => call('GET', `/v1/projects/${team.projectId}/environments?limit=2`, person.auth),
      (_role, _allowed, res) => {
        expect(res.body).toMatchObject({ total: 3, limit: 2, offset: 0, has_more: true });
        expect(res.body.data.map((e: { slug: string }) => e.slug)).toEqual(['dev', 'staging']);
        const dev = res.body.data[0];
        expect(dev).toMatchObject({ id: team.env.dev, project_id: team.projectId, name: 'Development' });
        expect(dev.client_side_id).toMatch(/^vx_cs_/);
      },
    );
    const rest = await call('GET', '/v1/projects/default/environments?limit=2&offset=2', team.org.auth);
    expect(rest.body).toMatchObject({ total: 3, offset: 2, has_more: false });
    expect(rest.body.data.map((e: { slug: string }) => e.slug)).toEqual(['production']);
  });

  it('POST /v1/projects/{id}/environments: developers and up create one (slug from the name when omitted); viewers get 403', async () => {
    const project = await givenProject();
    await forEveryRole(
      team,
      'createEnvironment',
      async () => `QA ${hex()}`,
      (person, name) =>
        call('POST', `/v1/projects/${project.id}/environments`, person.auth, { name, color: '#112233' }),
      async (_role, allowed, res, name) => {
        const slug = name.toLowerCase().replace(' ', '-');
        const rows = await server.sql('select id from environments where project_id = ? and key = ?', [
          project.id,
          slug,
        ]);
        expect(rows.length).toBe(allowed ? 1 : 0);
        if (allowed) expect(res.body).toMatchObject({ slug, name, color: '#112233', project_id: project.id });
      },
    );
  });

  it('DELETE /v1/projects/{id}/environments/{envId}: owners and admins (204); developers and viewers 403, nothing deleted', async () => {
    const project = await givenProject();
    await forEveryRole(
      team,
      'deleteEnvironment',
      async () => {
        const res = await call('POST', `/v1/projects/${project.id}/environments`, team.org.auth, {
          name: `Gone ${hex()}`,
        });
        return res.body.id as string;
      },
      (person, envId) => call('DELETE', `/v1/projects/${project.slug}/environments/${envId}`, person.auth),
      async (_role, allowed, _res, envId) => {
        expect(await environmentRows(envId)).toBe(allowed ? 0 : 1);
      },
    );
  });

  it('an environment named under another project of the organization is not found, and stays', async () => {
    const other = await givenProject();
    const res = await call('DELETE', `/v1/projects/${other.id}/environments/${team.env.dev}`, team.org.auth);
    expectEnvelope(res, 404, 'environment not found');
    expect(await environmentRows(team.env.dev!)).toBe(1);
  });
});

describe('another organization', () => {
  it('is told its project does not exist (404, never 403), by id or by slug, and changes nothing', async () => {
    const project = await givenProject(`Secret ${hex()}`);
    const stranger = team.stranger.auth;
    expectEnvelope(await call('GET', `/v1/projects/${project.id}`, stranger), 404, 'project not found');
    expectEnvelope(await call('GET', `/v1/projects/${project.slug}`, stranger), 404, 'project not found');
    expectEnvelope(await call('GET', `/v1/projects/${project.id}/environments`, stranger), 404);
    expectEnvelope(await call('DELETE', `/v1/projects/${project.id}`, stranger), 404);
    expectEnvelope(await call('POST', `/v1/projects/${project.id}/environments`, stranger, { name: 'Mine' }), 404);
    expectEnvelope(await call('DELETE', `/v1/projects/${team.projectId}/environments/${team.env.dev}`, stranger), 404);
    expect(await projectRows(project.id)).toBe(1);
    expect(await environmentRows(team.env.dev!)).toBe(1);
    const listed = await call('GET', '/v1/projects', stranger);
    expect(listed.body.data.map((p: { id: string }) => p.id)).not.toContain(project.id);
  });
});

describe('REST and GraphQL see the same change', () => {
  it('a project made through REST reads the same through GraphQL, and one made through GraphQL the same through REST', async () => {
    const made = await givenProject();
    const seen = await graphql(
      server.url,
      'query($id: ID!) { project(id: $id) { id name slug description createdAt updatedAt } }',
      { id: made.id },
      team.as.viewer.auth,
    );
    const p = seen.data.project;
    expect(made).toEqual({
      id: p.id,
      name: p.name,
      slug: p.slug,
      description: p.description,
      created_at: p.createdAt,
      updated_at: p.updatedAt,
    });

    const viaGraphql = await graphql(
      server.url,
      'mutation($input: CreateProjectInput!) { createProject(input: $input) { id name slug description createdAt updatedAt } }',
      { input: { name: `Via GraphQL ${hex()}` } },
      team.org.auth,
    );
    const g = viaGraphql.data.createProject;
    const viaRest = await call('GET', `/v1/projects/${g.slug}`, team.as.developer.auth);
    expect(viaRest.body).toEqual({
      id: g.id,
      name: g.name,
      slug: g.slug,
      description: g.description,
      created_at: g.createdAt,
      updated_at: g.updatedAt,
    });

    const envs = await graphql(
      server.url,
      'query($id: ID!) { project(id: $id) { environments { id key name color sortOrder version clientSideId } } }',
      { id: g.id },
      team.org.auth,
    );
    const restEnvs = await call('GET', `/v1/projects/${g.id}/environments`, team.org.auth);
    expect(
      restEnvs.body.data.map((e: Record<string, unknown>) => ({
        id: e.id,
        key: e.slug,
        name: e.name,
        color: e.color,
        sortOrder: e.sort_order,
        version: e.version,
        clientSideId: e.client_side_id,
      })),
    ).toEqual(envs.data.project.environments);
  });
});
