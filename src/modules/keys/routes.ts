import { Type } from 'typebox';
import {
  defineRoute,
  Int32,
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
import { GRACE_MINUTES } from './service.js';

/**
 * SDK keys over REST (the reference's "API keys"): listed masked with when each was last used,
 * every role may list them; a value is answered once, by the route that creates it.
 */

export const SDK_KEY = `fragment RestSdkKey on SdkKey {
  id env_id: environmentId type: kind name masked active created_at: createdAt
  created_by: createdBy { id email name }
  last_used_at: lastUsedAt revoked_at: revokedAt expires_at: expiresAt
}`;
const KeyType = Type.Enum(['server', 'mobile', 'client'], {
  description: 'server (vx_srv_…, backend only), mobile (vx_mob_…), client (the public client-side ID vx_cs_…).',
});
export const SdkKey = Type.Object({
  id: Uuid,
  env_id: Uuid,
  type: KeyType,
  name: Type.String(),
  masked: Type.String({ description: 'Prefix and last four characters: vx_srv_…a1B2.' }),
  active: Type.Boolean({ description: 'False once a revocation grace period has ended.' }),
  created_at: Timestamp,
  created_by: Nullable(Type.Object({ id: Uuid, email: Type.String(), name: Type.String() })),
  last_used_at: Nullable(Timestamp),
  revoked_at: Nullable(Timestamp),
  expires_at: Nullable(Timestamp),
});
const CreatedSdkKey = Type.Object({
  ...SdkKey.properties,
  key: Type.String({ description: 'The full key. Shown this once: copy it now.' }),
});

type KeyData = { type: string; [field: string]: unknown };
const keyJson = (key: KeyData) => ({ ...key, type: lower(key.type) });
const createdJson = (created: { value: string; key: KeyData }) => ({ ...keyJson(created.key), key: created.value });

const GRACE = Int32({
  minimum: 0,
  default: 0,
  description: `Minutes the old key keeps working: one of ${GRACE_MINUTES.join(', ')}.`,
});
const InEnvironment = Type.Object({ envId: Uuid }, strict);

export const keyRoutes = [
  defineRoute({
    name: 'listApiKeys',
    method: 'GET',
    url: '/v1/environments/:envId/api-keys',
    tag: 'API keys',
    summary: 'List API keys',
    description: 'Masked, with when each was last used; the client-side ID included.',
    permission: 'sdkkey:read',
    params: InEnvironment,
    query: Type.Object(PageQuery, strict),
    status: 200,
    response: Page(SdkKey),
    operation: `query RestSdkKeys($envId: ID!, $limit: Int, $offset: Int) {
      sdkKeys(environmentId: $envId, limit: $limit, offset: $offset) { data { ...RestSdkKey } ${PAGE_FIELDS} }
    } ${SDK_KEY}`,
    variables: ({ params, query }) => ({ envId: params.envId, ...query }),
    result: (data) => ({ ...data.sdkKeys, data: data.sdkKeys.data.map(keyJson) }),
  }),
  defineRoute({
    name: 'createApiKey',
    method: 'POST',
    url: '/v1/environments/:envId/api-keys',
    tag: 'API keys',
    summary: 'Create API key',
    description: 'A server or mobile key (rotate by addition). Its value is in this answer only.',
    permission: 'sdkkey:manage',
    params: InEnvironment,
    body: Type.Object(
      {
        name: Type.Optional(Type.String()),
        type: Type.Optional(Type.Enum(['server', 'mobile'], { default: 'server' })),
      },
      strict,
    ),
    status: 201,
    response: CreatedSdkKey,
    operation: `mutation RestCreateSdkKey($envId: ID!, $kind: SdkKeyKind!, $name: String) {
      createSdkKey(environmentId: $envId, kind: $kind, name: $name) { value key { ...RestSdkKey } }
    } ${SDK_KEY}`,
    variables: ({ params, body }) => ({ envId: params.envId, kind: upper(body.type ?? 'server'), name: body.name }),
    result: (data) => createdJson(data.createSdkKey),
  }),
  defineRoute({
    name: 'rotateApiKeys',
    method: 'POST',
    url: '/v1/environments/:envId/api-keys/rotate',
    tag: 'API keys',
    summary: 'Rotate every server key',
    description:
      'Incident response: one new server key per active one, the old ones revoked with the grace period given. The new values are in this answer only.',
    permission: 'sdkkey:manage',
    params: InEnvironment,
    body: Type.Object({ grace_minutes: Type.Optional(GRACE) }, strict),
    status: 201,
    response: Type.Object({ data: Type.Array(CreatedSdkKey) }),
    operation: `mutation RestRotateSdkKeys($envId: ID!, $grace: Int!) {
      rotateServerKeys(environmentId: $envId, graceMinutes: $grace) { value key { ...RestSdkKey } }
    } ${SDK_KEY}`,
    variables: ({ params, body }) => ({ envId: params.envId, grace: body.grace_minutes ?? 0 }),
    result: (data) => ({ data: data.rotateServerKeys.map(createdJson) }),
  }),
  defineRoute({
    name: 'revokeApiKey',
    method: 'DELETE',
    url: '/v1/api-keys/:keyId',
    tag: 'API keys',
    summary: 'Revoke API key',
    description:
      'The key keeps working for `grace_minutes` (default 0: at once), then answers 401 everywhere. Revoking again may only shorten the grace.',
    permission: 'sdkkey:manage',
    params: Type.Object({ keyId: Uuid }, strict),
    query: Type.Object({ grace_minutes: Type.Optional(GRACE) }, strict),
    status: 204,
    operation: `mutation RestRevokeSdkKey($id: ID!, $grace: Int!) {
      revokeSdkKey(id: $id, graceMinutes: $grace) { __typename }
    }`,
    variables: ({ params, query }) => ({ id: params.keyId, grace: query.grace_minutes ?? 0 }),
  }),
];
