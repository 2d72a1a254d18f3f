import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { uuidArray } from '../../src/db/sql.js';
import { graphql } from './client.js';
import type { GivenOrg } from './givens.js';

/** Enough of a test server for these builders. */
interface Server {
  url: string;
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
}

export interface GivenProject {
  id: string;
  /** Environment ids by key (dev, staging, production). */
  env: Record<string, string>;
}

/** A new project of `org` with its dev, staging and production environments. */
export async function givenProject(server: Server, org: GivenOrg): Promise<GivenProject> {
  const r = await graphql(
    server.url,
    'mutation($input: CreateProjectInput!) { createProject(input: $input) { id environments { id key } } }',
    { input: { name: `Project ${randomBytes(3).toString('hex')}` } },
    org.auth,
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  const env: Record<string, string> = {};
  for (const e of r.data.createProject.environments) env[e.key] = e.id;
  return { id: r.data.createProject.id, env };
}

export interface GivenFlag {
  id: string;
  key: string;
}

/** A flag in `project`; a boolean one unless `input` says otherwise. */
export async function givenFlag(
  server: Server,
  org: GivenOrg,
  project: GivenProject,
  input: Record<string, unknown> = {},
): Promise<GivenFlag> {
  const r = await graphql(
    server.url,
    'mutation($p: ID!, $input: CreateFlagInput!) { createFlag(projectId: $p, input: $input) { id key } }',
    { p: project.id, input: { key: `flag-${randomBytes(3).toString('hex')}`, kind: 'boolean', ...input } },
    org.auth,
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.createFlag;
}

export interface GivenSegment {
  id: string;
  key: string;
}

export async function givenSegment(
  server: Server,
  org: GivenOrg,
  project: GivenProject,
  input: Record<string, unknown> = {},
): Promise<GivenSegment> {
  const r = await graphql(
    server.url,
    'mutation($p: ID!, $input: CreateSegmentInput!) { createSegment(projectId: $p, input: $input) { id key } }',
    { p: project.id, input: { key: `seg-${randomBytes(3).toString('hex')}`, ...input } },
    org.auth,
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.createSegment;
}

export const UPDATE_STATE = `mutation($flagId: ID, $projectId: ID, $flagKey: String, $env: ID!, $v: Int!, $input: FlagStateInput!) {
  updateFlagState(flagId: $flagId, projectId: $projectId, flagKey: $flagKey, environmentId: $env, expectedVersion: $v, input: $input) {
    environment { key } on offVariation version
    targets { variation values }
    rules { id description clauses { attribute op values negate } serve { variation rollout { variations { variation weight } bucketBy } } }
    fallthrough { variation rollout { variations { variation weight } } }
    prerequisites { key variation }
  } }`;

/** The stored state of a flag in an environment, straight from the database. */
export async function storedState(server: Server, flagId: string, environmentId: string) {
  const [row] = await server.sql<{
    on: boolean;
    version: number;
    rules: unknown[];
    prerequisites: { key: string; variation: number }[];
    targets: unknown[];
    fallthrough: unknown;
    off_variation: number;
  }>(
    'select "on", version, rules, prerequisites, targets, fallthrough, off_variation from flag_states where flag_id = ? and environment_id = ?',
    [flagId, environmentId],
  );
  expect(row, 'flag state row').toBeDefined();
  return row!;
}

/** Changes a flag's state in one environment from its current version; fails the test on errors. */
export async function givenState(
  server: Server,
  org: GivenOrg,
  flagId: string,
  environmentId: string,
  input: Record<string, unknown>,
) {
  const { version } = await storedState(server, flagId, environmentId);
  const r = await graphql(server.url, UPDATE_STATE, { flagId, env: environmentId, v: version, input }, org.auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.updateFlagState;
}

/** Environment versions by id, from the database. */
export async function environmentVersions(server: Server, ids: string[]): Promise<Record<string, number>> {
  const rows = await server.sql<{ id: string; version: number }>(
    'select id, version from environments where id = any(?::uuid[])',
    [uuidArray(ids)],
  );
  return Object.fromEntries(rows.map((r) => [r.id, Number(r.version)]));
}
