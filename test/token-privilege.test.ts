/**
 * Nobody gains power over a credential or a role that can do more than they can: a token that
 * holds a permission you lack is not yours to activate, change or delete (admins may delete any
 * token, as the FeatBit reference says), and a role that holds a permission you lack is not yours
 * to grant, change or take away.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../src/auth/permissions.js';
import { errorCode, graphql } from './helpers/client.js';
import { environmentsOf, givenAccessToken } from './helpers/credentials.js';
import { givenMember, givenOrg } from './helpers/givens.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ AUTH_RATE_LIMIT: '10000', MANAGEMENT_RATE_LIMIT: '10000' });
});

const gql = (query: string, variables: Record<string, unknown>, headers: Record<string, string>) =>
  graphql(server.url, query, variables, headers);
const apiKey = (value: string) => ({ 'api-key': value });
const UPDATE = 'mutation($id: ID!, $i: UpdateAccessTokenInput!) { updateAccessToken(id: $id, input: $i) { id } }';
const DELETE = 'mutation($id: ID!) { deleteAccessToken(id: $id) { id } }';

async function token(auth: Record<string, string>, permissions: readonly string[], environmentIds?: string[]) {
  const r = await givenAccessToken(server.url, auth, {
    kind: 'SERVICE',
    permissions: [...permissions],
    environmentIds,
  });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.createAccessToken as { value: string; token: { id: string } };
}
const row = async (id: string) =>
  (await server.sql<{ active: boolean; name: string }>('select active, name from access_tokens where id = ?', [id]))[0];

describe("other people's tokens", () => {
  it("a developer can neither re-activate, rename nor delete an owner's deactivated all-permission token", async () => {
    const org = await givenOrg(server.url);
    const dev = await givenMember(server.url, org, 'developer');
    const powerful = await token(org.auth, PERMISSIONS);
    expect((await gql(UPDATE, { id: powerful.token.id, i: { active: false } }, org.auth)).errors).toBeUndefined();

    const activate = await gql(UPDATE, { id: powerful.token.id, i: { active: true } }, dev.auth);
    expect(errorCode(activate)).toBe('FORBIDDEN');
    expect(activate.errors?.[0]?.message).toMatch(/permissions you do not hold/);
    expect(errorCode(await gql(UPDATE, { id: powerful.token.id, i: { name: 'mine now' } }, dev.auth))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await gql(DELETE, { id: powerful.token.id }, dev.auth))).toBe('FORBIDDEN');
    expect(await row(powerful.token.id)).toEqual({ active: false, name: 'test token' });
    expect(
      await server.sql(
        "select 1 from audit_entries where organization_id = ? and action like 'token.%' and actor_user_id = ?",
        [org.organizationId, dev.userId],
      ),
    ).toHaveLength(0);
  });

  it('a developer still manages service tokens within their own permissions', async () => {
    const org = await givenOrg(server.url);
    const dev = await givenMember(server.url, org, 'developer');
    const modest = await token(org.auth, ['flag:read', 'flag:write']);
    expect((await gql(UPDATE, { id: modest.token.id, i: { active: false } }, dev.auth)).errors).toBeUndefined();
    expect((await gql(UPDATE, { id: modest.token.id, i: { name: 'renamed' } }, dev.auth)).errors).toBeUndefined();
    expect((await gql(DELETE, { id: modest.token.id }, dev.auth)).errors).toBeUndefined();
    expect(await row(modest.token.id)).toBeUndefined();
  });

  it('an admin may delete any token, even one holding more than admins hold', async () => {
    const org = await givenOrg(server.url);
    const admin = await givenMember(server.url, org, 'admin');
    const powerful = await token(org.auth, PERMISSIONS);
    expect(errorCode(await gql(UPDATE, { id: powerful.token.id, i: { active: false } }, admin.auth))).toBe('FORBIDDEN');
    expect((await gql(DELETE, { id: powerful.token.id }, admin.auth)).errors).toBeUndefined();
    expect(await row(powerful.token.id)).toBeUndefined();
  });

  it('a token narrowed to dev cannot re-activate a token that reaches every environment', async () => {
    const org = await givenOrg(server.url);
    const envs = await environmentsOf(server.url, org);
    const everywhere = await token(org.auth, ['flag:read', 'flag:write']);
    await gql(UPDATE, { id: everywhere.token.id, i: { active: false } }, org.auth);
    const narrowed = await token(
      org.auth,
      ['flag:read', 'flag:write', 'token:manage-service', 'token:list'],
      [envs.byKey.dev!.id],
    );
    const r = await gql(UPDATE, { id: everywhere.token.id, i: { active: true } }, apiKey(narrowed.value));
    expect(errorCode(r)).toBe('FORBIDDEN');
    expect((await row(everywhere.token.id))!.active).toBe(false);
  });
});

describe("other people's roles", () => {
  const ADD = 'mutation($e: String!, $r: Role!) { addMember(email: $e, role: $r) { role } }';
  const ROLE = 'mutation($u: ID!, $r: Role!) { updateMemberRole(userId: $u, role: $r) { role } }';
  const REMOVE = 'mutation($u: ID!) { removeMember(userId: $u) { role } }';

  it('a token that may manage members grants no role holding permissions the token lacks', async () => {
    const org = await givenOrg(server.url);
    const manager = await token(org.auth, ['member:read', 'member:manage']);
    const person = await givenOrg(server.url);
    const r = await gql(ADD, { e: person.email, r: 'developer' }, apiKey(manager.value));
    expect(errorCode(r)).toBe('FORBIDDEN');
    expect(
      await server.sql('select 1 from memberships where user_id = ? and organization_id = ?', [
        person.userId,
        org.organizationId,
      ]),
    ).toHaveLength(0);

    const viewer = await givenMember(server.url, org, 'viewer');
    expect(errorCode(await gql(ROLE, { u: viewer.userId, r: 'admin' }, apiKey(manager.value)))).toBe('FORBIDDEN');
    const admin = await givenMember(server.url, org, 'admin');
    expect(errorCode(await gql(REMOVE, { u: admin.userId }, apiKey(manager.value)))).toBe('FORBIDDEN');
    const roles = await server.sql<{ user_id: string; role: string }>(
      'select user_id, role from memberships where organization_id = ? and user_id in (?, ?) order by role',
      [org.organizationId, viewer.userId, admin.userId],
    );
    expect(roles.map((m) => m.role)).toEqual(['admin', 'viewer']);
  });

  it('an admin still adds, promotes and removes developers and viewers', async () => {
    const org = await givenOrg(server.url);
    const admin = await givenMember(server.url, org, 'admin');
    const person = await givenOrg(server.url);
    expect((await gql(ADD, { e: person.email, r: 'viewer' }, admin.auth)).errors).toBeUndefined();
    expect((await gql(ROLE, { u: person.userId, r: 'admin' }, admin.auth)).errors).toBeUndefined();
    expect((await gql(REMOVE, { u: person.userId }, admin.auth)).errors).toBeUndefined();
  });
});

describe('what a token sees of its owner', () => {
  it("a personal token narrowed to flags lists only its own organization, not every one of its owner's", async () => {
    const other = await givenOrg(server.url);
    const member = await givenMember(server.url, other, 'developer');
    const personal = await givenAccessToken(server.url, member.auth, { kind: 'PERSONAL', permissions: ['flag:read'] });
    expect(personal.errors).toBeUndefined();
    const asToken = await gql('{ myOrganizations { id } }', {}, apiKey(personal.data.createAccessToken.value));
    expect(asToken.data.myOrganizations).toEqual([{ id: other.organizationId }]);
    // The person themselves, signed in, still sees both of theirs.
    const signedIn = await gql('{ myOrganizations { id } }', {}, member.auth);
    expect(signedIn.data.myOrganizations).toHaveLength(2);
  });

  it('a service token lists its own organization', async () => {
    const org = await givenOrg(server.url);
    const service = await token(org.auth, ['flag:read']);
    const r = await gql('{ myOrganizations { id } }', {}, apiKey(service.value));
    expect(r.data.myOrganizations).toEqual([{ id: org.organizationId }]);
  });
});
