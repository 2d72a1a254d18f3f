import { Type } from 'typebox';
import { PERMISSIONS } from '../../auth/permissions.js';
import {
  defineRoute,
  lower,
  Nullable,
  PAGE_FIELDS,
  Page,
  PageQuery,
  strict,
  Timestamp,
  Uuid,
  upper,
} from '../../rest/route.js';

/** Access tokens over REST: integrators manage the credentials of their scripts by script too. */

export const ACCESS_TOKEN = `fragment RestAccessToken on AccessToken {
  id kind name masked owner { id email name } permissions environment_ids: environmentIds active
  created_at: createdAt last_used_at: lastUsedAt
}`;
const Kind = Type.Enum(['personal', 'service'], {
  description:
    "personal (vx_pat_…): its permissions ∩ its owner's current role; service (vx_sat_…): fixed at creation.",
});
export const AccessToken = Type.Object({
  id: Uuid,
  kind: Kind,
  name: Type.String(),
  masked: Type.String(),
  owner: Nullable(Type.Object({ id: Uuid, email: Type.String(), name: Type.String() })),
  permissions: Type.Array(Type.String()),
  environment_ids: Nullable(Type.Array(Uuid)),
  active: Type.Boolean(),
  created_at: Timestamp,
  last_used_at: Nullable(Timestamp),
});
const CreatedAccessToken = Type.Object({
  ...AccessToken.properties,
  token: Type.String({ description: 'The token. Shown this once: copy it now.' }),
});

type TokenData = { kind: string; [field: string]: unknown };
const tokenJson = (token: TokenData) => ({ ...token, kind: lower(token.kind) });
const ById = Type.Object({ id: Uuid }, strict);

export const tokenRoutes = [
  defineRoute({
    name: 'listAccessTokens',
    method: 'GET',
    url: '/v1/access-tokens',
    tag: 'Access tokens',
    summary: 'List access tokens',
    description: 'Masked; a value is never shown again.',
    permission: 'token:list',
    query: Type.Object(PageQuery, strict),
    status: 200,
    response: Page(AccessToken),
    operation: `query RestAccessTokens($limit: Int, $offset: Int) {
      accessTokens(limit: $limit, offset: $offset) { data { ...RestAccessToken } ${PAGE_FIELDS} }
    } ${ACCESS_TOKEN}`,
    variables: ({ query }) => query,
    result: (data) => ({ ...data.accessTokens, data: data.accessTokens.data.map(tokenJson) }),
  }),
  defineRoute({
    name: 'createAccessToken',
    method: 'POST',
    url: '/v1/access-tokens',
    tag: 'Access tokens',
    summary: 'Create access token',
    description: 'Never with a permission you lack. Its value is in this answer only.',
    permission: ['token:manage-personal', 'token:manage-service'],
    body: Type.Object(
      {
        name: Type.String(),
        kind: Kind,
        permissions: Type.Array(Type.String(), { description: `Of ${PERMISSIONS.join(', ')}.` }),
        environment_ids: Type.Optional(
          Type.Array(Uuid, { description: 'Limit environment-scoped writes to these environments.' }),
        ),
      },
      strict,
    ),
    status: 201,
    response: CreatedAccessToken,
    operation: `mutation RestCreateAccessToken($input: CreateAccessTokenInput!) {
      createAccessToken(input: $input) { value token { ...RestAccessToken } }
    } ${ACCESS_TOKEN}`,
    variables: ({ body }) => ({
      input: {
        name: body.name,
        kind: upper(body.kind),
        permissions: body.permissions,
        environmentIds: body.environment_ids,
      },
    }),
    result: (data) => ({ ...tokenJson(data.createAccessToken.token), token: data.createAccessToken.value }),
  }),
  defineRoute({
    name: 'updateAccessToken',
    method: 'PUT',
    url: '/v1/access-tokens/:id',
    tag: 'Access tokens',
    summary: 'Rename, activate or deactivate an access token',
    description: 'Only a token that can do nothing you cannot. An inactive token answers 403.',
    permission: ['token:manage-personal', 'token:manage-service'],
    params: ById,
    body: Type.Object({ name: Type.Optional(Type.String()), active: Type.Optional(Type.Boolean()) }, strict),
    status: 200,
    response: AccessToken,
    operation: `mutation RestUpdateAccessToken($id: ID!, $input: UpdateAccessTokenInput!) {
      updateAccessToken(id: $id, input: $input) { ...RestAccessToken }
    } ${ACCESS_TOKEN}`,
    variables: ({ params, body }) => ({ id: params.id, input: body }),
    result: (data) => tokenJson(data.updateAccessToken),
  }),
  defineRoute({
    name: 'deleteAccessToken',
    method: 'DELETE',
    url: '/v1/access-tokens/:id',
    tag: 'Access tokens',
    summary: 'Delete access token',
    description: 'For good (it then answers 401): one that can do nothing you cannot, or any token for admins.',
    permission: ['token:manage-personal', 'token:manage-service', 'member:manage'],
    params: ById,
    status: 204,
    operation: 'mutation RestDeleteAccessToken($id: ID!) { deleteAccessToken(id: $id) { __typename } }',
    variables: ({ params }) => ({ id: params.id }),
  }),
];
