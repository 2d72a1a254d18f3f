import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Role } from '../../src/auth/permissions.js';
import { bearer, graphql, request } from './client.js';

export interface GivenOrg {
  email: string;
  password: string;
  userId: string;
  organizationId: string;
  slug: string;
  accessToken: string;
  refreshToken: string;
  /** Headers that authenticate as this org's owner. */
  auth: Record<string, string>;
}

export const uniqueEmail = (prefix = 'user') => `${prefix}-${randomBytes(5).toString('hex')}@example.com`;

/** Registers a new person with their own organization (they are its owner). */
export async function givenOrg(base: string, orgName = `Org ${randomBytes(3).toString('hex')}`): Promise<GivenOrg> {
  const email = uniqueEmail();
  const password = 'correct-horse-battery';
  const res = await request(base, 'POST', '/v1/auth/register', {
    body: { email, password, name: 'Test Owner', org_name: orgName },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return {
    email,
    password,
    userId: res.body.user.id,
    organizationId: res.body.organization.id,
    slug: res.body.organization.slug,
    accessToken: res.body.tokens.access_token,
    refreshToken: res.body.tokens.refresh_token,
    auth: bearer(res.body.tokens.access_token),
  };
}

/** A person added to `org` with `role`, signed in to that organization. */
export async function givenMember(base: string, org: GivenOrg, role: Role) {
  const person = await givenOrg(base);
  const added = await graphql(
    base,
    'mutation($email: String!, $role: Role!) { addMember(email: $email, role: $role) { role } }',
    { email: person.email, role },
    org.auth,
  );
  expect(added.errors).toBeUndefined();
  const switched = await graphql(
    base,
    'mutation($id: ID!) { switchOrganization(organizationId: $id) { tokens { accessToken refreshToken } } }',
    { id: org.organizationId },
    person.auth,
  );
  expect(switched.errors).toBeUndefined();
  const accessToken: string = switched.data.switchOrganization.tokens.accessToken;
  /** Their session in `org` (a browser context signs in with it: sessionOf(member.session)). */
  const session: { accessToken: string; refreshToken: string } = switched.data.switchOrganization.tokens;
  return { ...person, organizationId: org.organizationId, accessToken, auth: bearer(accessToken), session };
}
