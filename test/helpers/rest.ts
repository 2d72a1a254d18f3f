import { expect } from 'vitest';
import type { Role } from '../../src/auth/permissions.js';
import { rolesFor } from '../../src/rest/plugin.js';
import type { AnyRoute } from '../../src/rest/route.js';
import { restRoutes } from '../../src/routes.js';
import { graphql, type HttpResult, request } from './client.js';
import { type GivenOrg, givenMember, givenOrg } from './givens.js';
import { startServer, type TestServer } from './server.js';

/** The REST management API as a script sees it: every role of one organization, and a stranger. */
export const ROLES: readonly Role[] = ['owner', 'admin', 'developer', 'viewer'];

/** The role groups of the reference's Management API tables. */
export const GROUPS = {
  read: ['owner', 'admin', 'developer', 'viewer'],
  write: ['owner', 'admin', 'developer'],
  admin: ['owner', 'admin'],
} as const satisfies Record<string, readonly Role[]>;

export interface Person {
  userId: string;
  email: string;
  auth: Record<string, string>;
}

export interface Team {
  org: GivenOrg;
  as: Record<Role, Person>;
  /** The owner of another organization. */
  stranger: GivenOrg;
  /** The Default project and its environments, by key. */
  projectId: string;
  env: Record<string, string>;
}

export async function givenTeam(base: string): Promise<Team> {
  const org = await givenOrg(base);
  const [admin, developer, viewer, stranger] = await Promise.all([
    givenMember(base, org, 'admin'),
    givenMember(base, org, 'developer'),
    givenMember(base, org, 'viewer'),
    givenOrg(base),
  ]);
  const found = await graphql(base, '{ project(slug: "default") { id environments { id key } } }', {}, org.auth);
  expect(found.errors).toBeUndefined();
  return {
    org,
    as: { owner: org, admin, developer, viewer },
    stranger,
    projectId: found.data.project.id,
    env: Object.fromEntries(found.data.project.environments.map((e: { id: string; key: string }) => [e.key, e.id])),
  };
}

/** A route of the table by name. */
export function routeNamed(name: string): AnyRoute {
  const route = restRoutes.find((r) => r.name === name);
  if (!route) throw new Error(`no REST route ${name}`);
  return route;
}

export type Call = (method: string, path: string, auth?: Record<string, string>, body?: unknown) => Promise<HttpResult>;

export const restClient =
  (base: string): Call =>
  (method, path, auth = {}, body) =>
    request(base, method, path, { headers: auth, ...(body === undefined ? {} : { body }) });

/** A server whose rate limits a role-by-role test stays under, a team in it, and a REST client. */
export async function givenRestWorld(): Promise<{ server: TestServer; team: Team; call: Call }> {
  const server = await startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' });
  return { server, team: await givenTeam(server.url), call: restClient(server.url) };
}

/** Whether `role` may call the route, by the permission table (what the tests then check over HTTP). */
export const mayCall = (name: string, role: Role) => rolesFor(routeNamed(name)).includes(role);

/** An RFC 3339 timestamp in UTC. */
export const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The REST error envelope, with the request id of its X-Request-Id header. */
export function expectEnvelope(res: HttpResult, status: number, message?: RegExp | string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
  expect(typeof res.body.error).toBe('string');
  if (message instanceof RegExp) expect(res.body.error).toMatch(message);
  else if (message !== undefined) expect(res.body.error).toBe(message);
}

/**
 * For every role: `act` with a fresh target, then the status expected of that role (success, or
 * 403 "Insufficient permissions"), and `stillThere` to tell whether a refusal left the target as it was.
 */
export async function forEveryRole<T>(
  team: Team,
  routeName: string,
  setup: () => Promise<T>,
  act: (person: Person, target: T) => Promise<HttpResult>,
  check: (role: Role, allowed: boolean, res: HttpResult, target: T) => Promise<void> | void,
) {
  const route = routeNamed(routeName);
  for (const role of ROLES) {
    const target = await setup();
    const res = await act(team.as[role], target);
    const allowed = mayCall(routeName, role);
    if (allowed) {
      expect(res.status, `${route.method} ${route.url} as ${role}: ${JSON.stringify(res.body)}`).toBe(route.status);
    } else {
      expect(res.status, `${route.method} ${route.url} as ${role}: ${JSON.stringify(res.body)}`).toBe(403);
      expect(res.body.error).toBe('Insufficient permissions');
    }
    await check(role, allowed, res, target);
  }
}
