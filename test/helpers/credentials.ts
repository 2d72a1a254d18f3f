import { expect } from 'vitest';
import { graphql } from './client.js';
import type { GivenOrg } from './givens.js';

export async function environmentsOf(base: string, org: { auth: Record<string, string> }) {
  const r = await graphql(
    base,
    '{ project(slug: "default") { id environments { id key clientSideId } } }',
    {},
    org.auth,
  );
  expect(r.errors).toBeUndefined();
  const envs: { id: string; key: string; clientSideId: string }[] = r.data.project.environments;
  return {
    projectId: r.data.project.id as string,
    byKey: Object.fromEntries(envs.map((e) => [e.key, e])) as Record<string, (typeof envs)[number]>,
  };
}

export async function givenSdkKey(
  base: string,
  org: GivenOrg,
  environmentId: string,
  kind: 'SERVER' | 'MOBILE' = 'SERVER',
) {
  const r = await graphql(
    base,
    'mutation($e: ID!, $k: SdkKeyKind!) { createSdkKey(environmentId: $e, kind: $k, name: "test key") { value key { id masked kind } } }',
    { e: environmentId, k: kind },
    org.auth,
  );
  expect(r.errors).toBeUndefined();
  return r.data.createSdkKey as { value: string; key: { id: string; masked: string; kind: string } };
}

export async function givenAccessToken(
  base: string,
  auth: Record<string, string>,
  input: { name?: string; kind: 'PERSONAL' | 'SERVICE'; permissions: string[]; environmentIds?: string[] },
) {
  const r = await graphql(
    base,
    'mutation($input: CreateAccessTokenInput!) { createAccessToken(input: $input) { value token { id masked kind active permissions } } }',
    { input: { name: input.name ?? 'test token', ...input } },
    auth,
  );
  return r;
}
