import { type Static, Type } from 'typebox';
import { FLAG_KINDS } from '../../evaluation/index.js';
import {
  defineRoute,
  Int32,
  Json,
  Nullable,
  PAGE_FIELDS,
  Page,
  PageQuery,
  ProjectRef,
  strict,
  Timestamp,
  Uuid,
} from '../../rest/route.js';
import { APPROVAL, pendingAnswer } from '../pending/present.js';
import { CLAUSE, Clause, ClauseInput, SERVE, Serve, ServeInput, toClause, toServe } from '../targeting/shapes.js';

/** Flags and their per-environment state over REST. The reference calls a flag's kind `flag_type` and `on` `enabled`. */

export const FLAG = `fragment RestFlag on Flag {
  id key name description flag_type: kind variations { value name } tags
  client_side_available: clientSideAvailable temporary archived archived_at: archivedAt
  created_at: createdAt updated_at: updatedAt
}`;
const FlagKind = (options: { default?: string } = {}) => Type.Enum([...FLAG_KINDS], options);
export const Flag = Type.Object({
  id: Uuid,
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  flag_type: FlagKind(),
  variations: Type.Array(Type.Object({ value: Json, name: Nullable(Type.String()) }), {
    description: 'Referred to by index everywhere else.',
  }),
  tags: Type.Array(Type.String()),
  client_side_available: Type.Boolean(),
  temporary: Type.Boolean(),
  archived: Type.Boolean(),
  archived_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const FLAG_STATE = `fragment RestFlagState on FlagState {
  env_id: environmentId enabled: on off_variation: offVariation
  targets { variation values }
  rules { id description clauses { ...RestClause } serve { ...RestServe } }
  fallthrough { ...RestServe }
  prerequisites { key variation }
  version updated_at: updatedAt
} ${CLAUSE} ${SERVE}`;
export const FlagState = Type.Object({
  env_id: Uuid,
  enabled: Type.Boolean(),
  off_variation: Type.Integer({ description: 'Served while the flag is off or a prerequisite fails.' }),
  targets: Type.Array(Type.Object({ variation: Type.Integer(), values: Type.Array(Type.String()) })),
  rules: Type.Array(
    Type.Object({ id: Type.String(), description: Nullable(Type.String()), clauses: Type.Array(Clause), serve: Serve }),
  ),
  fallthrough: Serve,
  prerequisites: Type.Array(Type.Object({ key: Type.String(), variation: Type.Integer() })),
  version: Type.Integer({ description: 'Send it back as `version` to change this state.' }),
  updated_at: Timestamp,
});

const VariationInput = Type.Object(
  { value: Json, name: Type.Optional(Type.String()) },
  { ...strict, description: "The value must match the flag's type." },
);
const FlagFields = {
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  variations: Type.Optional(Type.Array(VariationInput)),
  tags: Type.Optional(Type.Array(Type.String())),
  client_side_available: Type.Optional(Type.Boolean()),
  temporary: Type.Optional(Type.Boolean()),
};
const toFlagInput = (body: {
  name?: string;
  description?: string;
  variations?: { value: unknown; name?: string }[];
  tags?: string[];
  client_side_available?: boolean;
  temporary?: boolean;
}) => ({
  name: body.name,
  description: body.description,
  variations: body.variations,
  tags: body.tags,
  clientSideAvailable: body.client_side_available,
  temporary: body.temporary,
});

/** The parts of a flag's state a change replaces, as REST names them (a state update, an approval request). */
export const FlagStateChange = {
  enabled: Type.Optional(Type.Boolean()),
  off_variation: Type.Optional(Int32({ minimum: 0 })),
  targets: Type.Optional(
    Type.Array(Type.Object({ variation: Int32({ minimum: 0 }), values: Type.Array(Type.String()) }, strict)),
  ),
  rules: Type.Optional(
    Type.Array(
      Type.Object(
        {
          id: Type.Optional(Type.String({ description: "Keep an existing rule's id; omitted: a new one." })),
          description: Type.Optional(Type.String()),
          clauses: Type.Array(ClauseInput),
          serve: ServeInput,
        },
        strict,
      ),
    ),
  ),
  fallthrough: Type.Optional(ServeInput),
  prerequisites: Type.Optional(
    Type.Array(Type.Object({ key: Type.String(), variation: Int32({ minimum: 0 }) }, strict)),
  ),
};
const FlagStateChangeBody = Type.Object(FlagStateChange, strict);

/** A FlagStateChange body as GraphQL's FlagStateInput. */
export const flagStateInput = (body: Static<typeof FlagStateChangeBody>) => ({
  on: body.enabled,
  offVariation: body.off_variation,
  targets: body.targets,
  rules: body.rules?.map((r) => ({
    id: r.id,
    description: r.description,
    clauses: r.clauses.map(toClause),
    serve: toServe(r.serve),
  })),
  fallthrough: body.fallthrough && toServe(body.fallthrough),
  prerequisites: body.prerequisites,
});

const InProject = Type.Object({ id: ProjectRef }, strict);
const FlagPath = Type.Object({ id: ProjectRef, key: Type.String({ minLength: 1, maxLength: 100 }) }, strict);
const StatePath = Type.Object(
  { id: ProjectRef, key: Type.String({ minLength: 1, maxLength: 100 }), envId: Uuid },
  strict,
);
const ARCHIVED = { false: false, true: true, all: null } as const;

export const flagRoutes = [
  defineRoute({
    name: 'listFlags',
    method: 'GET',
    url: '/v1/projects/:id/flags',
    tag: 'Flags',
    summary: 'List flags',
    description: 'In key order; filtered as GraphQL filters them.',
    permission: 'flag:read',
    params: InProject,
    projectParam: 'id',
    query: Type.Object(
      {
        ...PageQuery,
        tag: Type.Optional(Type.String({ description: 'Only flags with this tag.' })),
        archived: Type.Optional(
          Type.Enum(['false', 'true', 'all'], {
            default: 'false',
            description: 'false: live flags; true: archived ones; all: both.',
          }),
        ),
        search: Type.Optional(
          Type.String({ description: 'Case-insensitive substring of the key, name or description.' }),
        ),
      },
      strict,
    ),
    status: 200,
    response: Page(Flag),
    operation: `query RestFlags($id: ID!, $limit: Int, $offset: Int, $tag: String, $archived: Boolean, $search: String) {
      project(id: $id) {
        flags(limit: $limit, offset: $offset, tag: $tag, archived: $archived, search: $search) {
          data { ...RestFlag } ${PAGE_FIELDS}
        }
      }
    } ${FLAG}`,
    variables: ({ params, query }) => ({
      id: params.id,
      limit: query.limit,
      offset: query.offset,
      tag: query.tag,
      archived: ARCHIVED[query.archived ?? 'false'],
      search: query.search,
    }),
    result: (data) => data.project.flags,
  }),
  defineRoute({
    name: 'getFlag',
    method: 'GET',
    url: '/v1/projects/:id/flags/:key',
    tag: 'Flags',
    summary: 'Get flag',
    permission: 'flag:read',
    params: FlagPath,
    projectParam: 'id',
    status: 200,
    response: Flag,
    operation: `query RestFlag($id: ID!, $key: String!) { project(id: $id) { flag(key: $key) { ...RestFlag } } } ${FLAG}`,
    variables: ({ params }) => params,
    result: (data) => data.project.flag,
  }),
  defineRoute({
    name: 'createFlag',
    method: 'POST',
    url: '/v1/projects/:id/flags',
    tag: 'Flags',
    summary: 'Create flag',
    description: 'Off in every environment of the project. A boolean flag without variations gets [true, false].',
    permission: 'flag:write',
    params: InProject,
    projectParam: 'id',
    body: Type.Object(
      {
        key: Type.String({ description: 'Immutable.' }),
        flag_type: Type.Optional(FlagKind({ default: 'boolean' })),
        ...FlagFields,
      },
      strict,
    ),
    status: 201,
    response: Flag,
    operation: `mutation RestCreateFlag($projectId: ID!, $input: CreateFlagInput!) {
      createFlag(projectId: $projectId, input: $input) { ...RestFlag }
    } ${FLAG}`,
    variables: ({ params, body }) => ({
      projectId: params.id,
      input: { key: body.key, kind: body.flag_type, ...toFlagInput(body) },
    }),
    result: (data) => data.createFlag,
  }),
  defineRoute({
    name: 'updateFlag',
    method: 'PUT',
    url: '/v1/projects/:id/flags/:key',
    tag: 'Flags',
    summary: 'Update flag',
    description:
      "Replaces the fields given and keeps the others; new variations are checked against every environment's targeting.",
    permission: 'flag:write',
    params: FlagPath,
    projectParam: 'id',
    body: Type.Object(FlagFields, strict),
    status: 200,
    response: Flag,
    operation: `mutation RestUpdateFlag($projectId: ID!, $key: String!, $input: UpdateFlagInput!) {
      updateFlag(projectId: $projectId, key: $key, input: $input) { ...RestFlag }
    } ${FLAG}`,
    variables: ({ params, body }) => ({ projectId: params.id, key: params.key, input: toFlagInput(body) }),
    result: (data) => data.updateFlag,
  }),
  defineRoute({
    name: 'deleteFlag',
    method: 'DELETE',
    url: '/v1/projects/:id/flags/:key',
    tag: 'Flags',
    summary: 'Delete flag',
    description:
      'With its targeting everywhere; refused (409) while another flag has it as a prerequisite, or when it was evaluated in the last hour unless `force=true`.',
    permission: 'flag:delete',
    params: FlagPath,
    projectParam: 'id',
    query: Type.Object({ force: Type.Optional(Type.Boolean({ default: false })) }, strict),
    status: 204,
    accepted: pendingAnswer((data) => data.deleteFlag),
    operation: `mutation RestDeleteFlag($projectId: ID!, $key: String!, $force: Boolean) {
      deleteFlag(projectId: $projectId, key: $key, force: $force) { pendingChange { ...RestApproval } }
    } ${APPROVAL}`,
    variables: ({ params, query }) => ({ projectId: params.id, key: params.key, force: query.force ?? false }),
  }),
  defineRoute({
    name: 'getFlagState',
    method: 'GET',
    url: '/v1/projects/:id/flags/:key/environments/:envId',
    tag: 'Flags',
    summary: 'Get flag state',
    description: "The flag's targeting in one environment of its project.",
    permission: 'flag:read',
    params: StatePath,
    projectParam: 'id',
    status: 200,
    response: FlagState,
    operation: `query RestFlagState($id: ID!, $key: String!, $envId: ID!) {
      project(id: $id) { flag(key: $key) { environmentState(environmentId: $envId) { ...RestFlagState } } }
    } ${FLAG_STATE}`,
    variables: ({ params }) => params,
    result: (data) => data.project.flag.environmentState,
  }),
  defineRoute({
    name: 'updateFlagState',
    method: 'PUT',
    url: '/v1/projects/:id/flags/:key/environments/:envId',
    tag: 'Flags',
    summary: 'Update flag state',
    description:
      'Replaces the parts given and keeps the others. `version` is the state version the change is based on: a stale one is refused with 409 and nothing changes.',
    permission: 'flag:write',
    params: StatePath,
    projectParam: 'id',
    body: Type.Object(
      { version: Int32({ minimum: 1, description: 'The version read (optimistic concurrency).' }), ...FlagStateChange },
      strict,
    ),
    status: 200,
    response: FlagState,
    accepted: pendingAnswer((data) => data.updateFlagState),
    operation: `mutation RestUpdateFlagState($projectId: ID!, $key: String!, $envId: ID!, $version: Int!, $input: FlagStateInput!) {
      updateFlagState(projectId: $projectId, flagKey: $key, environmentId: $envId, expectedVersion: $version, input: $input) {
        ...RestFlagState pendingChange { ...RestApproval }
      }
    } ${FLAG_STATE} ${APPROVAL}`,
    variables: ({ params, body }) => ({
      projectId: params.id,
      key: params.key,
      envId: params.envId,
      version: body.version,
      input: flagStateInput(body),
    }),
    result: (data) => data.updateFlagState,
  }),
  defineRoute({
    name: 'promoteFlag',
    method: 'POST',
    url: '/v1/projects/:id/flags/:key/promote',
    tag: 'Flags',
    summary: 'Promote flag config',
    description: "Copies the flag's targeting from one environment to another; answers the target's new state.",
    permission: 'flag:write',
    params: FlagPath,
    projectParam: 'id',
    body: Type.Object({ source_env_id: Uuid, target_env_id: Uuid }, strict),
    status: 200,
    response: FlagState,
    operation: `mutation RestPromoteFlag($projectId: ID!, $key: String!, $from: ID!, $to: [ID!]!) {
      promoteFlag(projectId: $projectId, flagKey: $key, fromEnvironmentId: $from, toEnvironmentIds: $to) { ...RestFlagState }
    } ${FLAG_STATE}`,
    variables: ({ params, body }) => ({
      projectId: params.id,
      key: params.key,
      from: body.source_env_id,
      to: [body.target_env_id],
    }),
    result: (data) => data.promoteFlag[0],
  }),
  defineRoute({
    name: 'killFlag',
    method: 'POST',
    url: '/v1/projects/:id/flags/:key/kill',
    tag: 'Flags',
    summary: 'Kill switch',
    description: 'Turns the flag off in the environment at once (archived flags too); answers its state.',
    permission: 'flag:write',
    params: FlagPath,
    projectParam: 'id',
    body: Type.Object({ env_id: Uuid }, strict),
    status: 200,
    response: FlagState,
    operation: `mutation RestKillFlag($projectId: ID!, $key: String!, $envId: ID!) {
      killFlag(projectId: $projectId, flagKey: $key, environmentId: $envId) { ...RestFlagState }
    } ${FLAG_STATE}`,
    variables: ({ params, body }) => ({ projectId: params.id, key: params.key, envId: body.env_id }),
    result: (data) => data.killFlag[0],
  }),
];
