import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { pageArgs, pageOf } from '../../graphql/page.js';
import type { Environment, Project } from './entity.js';
import type { EnvironmentProvisioner } from './service.js';
import {
  createEnvironment,
  createProject,
  deleteEnvironment,
  deleteProject,
  getProject,
  listProjects,
  pageEnvironments,
  readEnvironments,
  updateEnvironment,
  updateProject,
} from './service.js';

export const ProjectType = builder.objectRef<Project>('Project');
export const EnvironmentType = builder.objectRef<Environment>('Environment');

ProjectType.implement({
  authScopes: { permission: 'project:read' },
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    description: t.exposeString('description'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    environments: t.field({
      type: [EnvironmentType],
      description: 'The environments of this project, in their display order.',
      complexity: { field: 1, multiplier: 10 },
      resolve: (project, _args, ctx) => readEnvironments(ctx.em, project),
    }),
    environmentPage: t.field({
      type: EnvironmentPage,
      description: 'The environments of this project in display order, a page at a time.',
      args: pageArgs,
      resolve: (project, args, ctx) => pageEnvironments(ctx.em, project, args),
    }),
  }),
});

EnvironmentType.implement({
  authScopes: { permission: 'project:read' },
  fields: (t) => ({
    id: t.exposeID('id'),
    projectId: t.id({ resolve: (env) => env.project.id }),
    key: t.exposeString('key'),
    name: t.exposeString('name'),
    color: t.exposeString('color', { nullable: true }),
    sortOrder: t.exposeInt('sortOrder'),
    version: t.exposeInt('version', { description: 'Bumped by every change to what this environment evaluates.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const ProjectPage = pageOf('Project', ProjectType);
const EnvironmentPage = pageOf('Environment', EnvironmentType);

builder.queryFields((t) => ({
  projects: t.field({
    type: ProjectPage,
    authScopes: { permission: 'project:read' },
    args: pageArgs,
    resolve: (_root, args, ctx) => listProjects(ctx.em, actorOf(ctx), args),
  }),
  project: t.field({
    type: ProjectType,
    authScopes: { permission: 'project:read' },
    description: "A project of the caller's organization, by id or by slug (exactly one).",
    args: { id: t.arg.id({ required: false }), slug: t.arg.string({ required: false }) },
    resolve: (_root, args, ctx) => getProject(ctx.em, actorOf(ctx), { id: args.id?.toString(), slug: args.slug }),
  }),
}));

const CreateProjectInput = builder.inputType('CreateProjectInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    slug: t.string({ required: false, description: 'Defaults to a slug of the name.' }),
    description: t.string({ required: false }),
  }),
});
const UpdateProjectInput = builder.inputType('UpdateProjectInput', {
  fields: (t) => ({
    name: t.string({ required: false }),
    description: t.string({ required: false }),
  }),
});
const CreateEnvironmentInput = builder.inputType('CreateEnvironmentInput', {
  fields: (t) => ({
    key: t.string({ required: false, description: 'Defaults to a slug of the name.' }),
    name: t.string({ required: true }),
    color: t.string({ required: false, description: '#rrggbb' }),
  }),
});
const UpdateEnvironmentInput = builder.inputType('UpdateEnvironmentInput', {
  fields: (t) => ({
    name: t.string({ required: false }),
    color: t.string({ required: false }),
    sortOrder: t.int({ required: false }),
  }),
});

builder.mutationFields((t) => ({
  createProject: t.field({
    type: ProjectType,
    description: 'Creates a project with dev, staging and production environments.',
    authScopes: { permission: 'project:write' },
    args: { input: t.arg({ type: CreateProjectInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createProject(ctx.em, actorOf(ctx), input, ctx.services.environmentProvisioners),
  }),
  updateProject: t.field({
    type: ProjectType,
    authScopes: { permission: 'project:write' },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateProjectInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => updateProject(ctx.em, actorOf(ctx), id.toString(), input),
  }),
  deleteProject: t.field({
    type: ProjectType,
    authScopes: { permission: 'project:delete' },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => deleteProject(ctx.em, actorOf(ctx), id.toString()),
  }),
  createEnvironment: t.field({
    type: EnvironmentType,
    authScopes: { permission: 'environment:write' },
    args: { projectId: t.arg.id({ required: true }), input: t.arg({ type: CreateEnvironmentInput, required: true }) },
    resolve: (_root, { projectId, input }, ctx) =>
      createEnvironment(ctx.em, actorOf(ctx), projectId.toString(), input, ctx.services.environmentProvisioners),
  }),
  updateEnvironment: t.field({
    type: EnvironmentType,
    authScopes: (_root, { id }) => ({
      environmentPermission: { permission: 'environment:write', environmentId: id.toString() },
    }),
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateEnvironmentInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => updateEnvironment(ctx.em, actorOf(ctx), id.toString(), input),
  }),
  deleteEnvironment: t.field({
    type: EnvironmentType,
    description: 'Deletes an environment; with projectId, only one of that project.',
    authScopes: (_root, { id }) => ({
      environmentPermission: { permission: 'environment:delete', environmentId: id.toString() },
    }),
    args: { id: t.arg.id({ required: true }), projectId: t.arg.id({ required: false }) },
    resolve: (_root, { id, projectId }, ctx) =>
      deleteEnvironment(ctx.em, actorOf(ctx), id.toString(), projectId?.toString()),
  }),
}));

declare module '../../graphql/context.js' {
  interface ContextServices {
    /** What an environment is born with, from other modules (wired in app.ts). */
    environmentProvisioners: readonly EnvironmentProvisioner[];
  }
}
