import { Type } from 'typebox';
import {
  defineRoute,
  Nullable,
  PAGE_FIELDS,
  Page,
  PageQuery,
  ProjectRef,
  strict,
  Timestamp,
  Uuid,
} from '../../rest/route.js';

/** Projects and environments over REST (the API reference's names: an environment's key is its `slug`). */

export const PROJECT = `fragment RestProject on Project {
  id name slug description created_at: createdAt updated_at: updatedAt
}`;
export const Project = Type.Object({
  id: Uuid,
  name: Type.String(),
  slug: Type.String(),
  description: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const ENVIRONMENT = `fragment RestEnvironment on Environment {
  id project_id: projectId slug: key name color sort_order: sortOrder version client_side_id: clientSideId
  created_at: createdAt updated_at: updatedAt
}`;
export const Environment = Type.Object({
  id: Uuid,
  project_id: Uuid,
  slug: Type.String({ description: 'The environment key: SDK paths and flag states name it.' }),
  name: Type.String(),
  color: Nullable(Type.String()),
  sort_order: Type.Integer(),
  version: Type.Integer({ description: 'Bumped by every change to what the environment evaluates.' }),
  client_side_id: Nullable(Type.String({ description: 'The public vx_cs_… ID for browser SDKs.' })),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const ById = Type.Object({ id: ProjectRef }, strict);
const EnvironmentPath = Type.Object({ id: ProjectRef, envId: Uuid }, strict);
const Paging = Type.Object(PageQuery, strict);

export const projectRoutes = [
  defineRoute({
    name: 'listProjects',
    method: 'GET',
    url: '/v1/projects',
    tag: 'Projects',
    summary: 'List projects',
    permission: 'project:read',
    query: Paging,
    status: 200,
    response: Page(Project),
    operation: `query RestProjects($limit: Int, $offset: Int) {
      projects(limit: $limit, offset: $offset) { data { ...RestProject } ${PAGE_FIELDS} }
    } ${PROJECT}`,
    variables: ({ query }) => query,
    result: (data) => data.projects,
  }),
  defineRoute({
    name: 'getProject',
    method: 'GET',
    url: '/v1/projects/:id',
    tag: 'Projects',
    summary: 'Get project',
    permission: 'project:read',
    params: ById,
    projectParam: 'id',
    status: 200,
    response: Project,
    operation: `query RestProject($id: ID!) { project(id: $id) { ...RestProject } } ${PROJECT}`,
    variables: ({ params }) => ({ id: params.id }),
    result: (data) => data.project,
  }),
  defineRoute({
    name: 'createProject',
    method: 'POST',
    url: '/v1/projects',
    tag: 'Projects',
    summary: 'Create project',
    description: 'Creates a project with dev, staging and production environments.',
    permission: 'project:write',
    body: Type.Object(
      {
        name: Type.String(),
        slug: Type.Optional(Type.String({ description: 'Defaults to a slug of the name.' })),
        description: Type.Optional(Type.String()),
      },
      strict,
    ),
    status: 201,
    response: Project,
    operation: `mutation RestCreateProject($input: CreateProjectInput!) {
      createProject(input: $input) { ...RestProject }
    } ${PROJECT}`,
    variables: ({ body }) => ({ input: body }),
    result: (data) => data.createProject,
  }),
  defineRoute({
    name: 'deleteProject',
    method: 'DELETE',
    url: '/v1/projects/:id',
    tag: 'Projects',
    summary: 'Delete project',
    description: 'Deletes the project with its environments, flags, segments and SDK keys.',
    permission: 'project:delete',
    params: ById,
    projectParam: 'id',
    status: 204,
    operation: 'mutation RestDeleteProject($id: ID!) { deleteProject(id: $id) { __typename } }',
    variables: ({ params }) => ({ id: params.id }),
  }),
  defineRoute({
    name: 'listEnvironments',
    method: 'GET',
    url: '/v1/projects/:id/environments',
    tag: 'Environments',
    summary: 'List environments',
    description: 'In display order.',
    permission: 'project:read',
    params: ById,
    projectParam: 'id',
    query: Paging,
    status: 200,
    response: Page(Environment),
    operation: `query RestEnvironments($id: ID!, $limit: Int, $offset: Int) {
      project(id: $id) { environmentPage(limit: $limit, offset: $offset) { data { ...RestEnvironment } ${PAGE_FIELDS} } }
    } ${ENVIRONMENT}`,
    variables: ({ params, query }) => ({ id: params.id, ...query }),
    result: (data) => data.project.environmentPage,
  }),
  defineRoute({
    name: 'createEnvironment',
    method: 'POST',
    url: '/v1/projects/:id/environments',
    tag: 'Environments',
    summary: 'Create environment',
    description: 'Every flag of the project gets a state in it, off.',
    permission: 'environment:write',
    params: ById,
    projectParam: 'id',
    body: Type.Object(
      {
        name: Type.String(),
        slug: Type.Optional(Type.String({ description: 'The environment key; defaults to a slug of the name.' })),
        color: Type.Optional(Type.String({ description: '#rrggbb' })),
      },
      strict,
    ),
    status: 201,
    response: Environment,
    operation: `mutation RestCreateEnvironment($projectId: ID!, $input: CreateEnvironmentInput!) {
      createEnvironment(projectId: $projectId, input: $input) { ...RestEnvironment }
    } ${ENVIRONMENT}`,
    variables: ({ params, body }) => ({
      projectId: params.id,
      input: { key: body.slug, name: body.name, color: body.color },
    }),
    result: (data) => data.createEnvironment,
  }),
  defineRoute({
    name: 'deleteEnvironment',
    method: 'DELETE',
    url: '/v1/projects/:id/environments/:envId',
    tag: 'Environments',
    summary: 'Delete environment',
    description: 'Deletes the environment with its flag states and SDK keys (which stop working at once).',
    permission: 'environment:delete',
    params: EnvironmentPath,
    projectParam: 'id',
    status: 204,
    operation: `mutation RestDeleteEnvironment($id: ID!, $projectId: ID!) {
      deleteEnvironment(id: $id, projectId: $projectId) { __typename }
    }`,
    variables: ({ params }) => ({ id: params.envId, projectId: params.id }),
  }),
];
