import { Type } from 'typebox';
import {
  defineRoute,
  Int32,
  PAGE_FIELDS,
  Page,
  PageQuery,
  ProjectRef,
  strict,
  Timestamp,
  Uuid,
} from '../../rest/route.js';
import { APPROVAL, pendingAnswer } from '../pending/present.js';
import { CLAUSE, Clause, ClauseInput, toClause } from '../targeting/shapes.js';

/** Segments over REST: the reusable audiences of a project, the same in every environment. */

export const SEGMENT = `fragment RestSegment on Segment {
  id key name description included excluded rules { id clauses { ...RestClause } } version
  created_at: createdAt updated_at: updatedAt
} ${CLAUSE}`;
export const Segment = Type.Object({
  id: Uuid,
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  included: Type.Array(Type.String(), { description: 'Context keys that are always members (wins over excluded).' }),
  excluded: Type.Array(Type.String(), { description: 'Context keys that are never members.' }),
  rules: Type.Array(Type.Object({ id: Type.String(), clauses: Type.Array(Clause) }), {
    description: 'A context matching any rule is a member.',
  }),
  version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const SegmentFields = {
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  included: Type.Optional(Type.Array(Type.String())),
  excluded: Type.Optional(Type.Array(Type.String())),
  rules: Type.Optional(
    Type.Array(
      Type.Object(
        {
          id: Type.Optional(Type.String({ description: "Keep an existing rule's id; omitted: a new one." })),
          clauses: Type.Array(ClauseInput),
        },
        strict,
      ),
    ),
  ),
};
const toSegmentInput = (body: {
  name?: string;
  description?: string;
  included?: string[];
  excluded?: string[];
  rules?: { id?: string; clauses: Parameters<typeof toClause>[0][] }[];
}) => ({
  name: body.name,
  description: body.description,
  included: body.included,
  excluded: body.excluded,
  rules: body.rules?.map((r) => ({ id: r.id, clauses: r.clauses.map(toClause) })),
});

const InProject = Type.Object({ id: ProjectRef }, strict);
const SegmentPath = Type.Object({ id: ProjectRef, key: Type.String({ minLength: 1, maxLength: 100 }) }, strict);

export const segmentRoutes = [
  defineRoute({
    name: 'listSegments',
    method: 'GET',
    url: '/v1/projects/:id/segments',
    tag: 'Segments',
    summary: 'List segments',
    description: 'In key order.',
    permission: 'segment:read',
    params: InProject,
    projectParam: 'id',
    query: Type.Object(PageQuery, strict),
    status: 200,
    response: Page(Segment),
    operation: `query RestSegments($id: ID!, $limit: Int, $offset: Int) {
      project(id: $id) { segments(limit: $limit, offset: $offset) { data { ...RestSegment } ${PAGE_FIELDS} } }
    } ${SEGMENT}`,
    variables: ({ params, query }) => ({ id: params.id, ...query }),
    result: (data) => data.project.segments,
  }),
  defineRoute({
    name: 'getSegment',
    method: 'GET',
    url: '/v1/projects/:id/segments/:key',
    tag: 'Segments',
    summary: 'Get segment',
    permission: 'segment:read',
    params: SegmentPath,
    projectParam: 'id',
    status: 200,
    response: Segment,
    operation: `query RestSegment($id: ID!, $key: String!) {
      project(id: $id) { segment(key: $key) { ...RestSegment } }
    } ${SEGMENT}`,
    variables: ({ params }) => params,
    result: (data) => data.project.segment,
  }),
  defineRoute({
    name: 'createSegment',
    method: 'POST',
    url: '/v1/projects/:id/segments',
    tag: 'Segments',
    summary: 'Create segment',
    permission: 'segment:write',
    params: InProject,
    projectParam: 'id',
    body: Type.Object(
      {
        key: Type.String({ description: 'Immutable; segmentMatch clauses name the segment by it.' }),
        ...SegmentFields,
      },
      strict,
    ),
    status: 201,
    response: Segment,
    operation: `mutation RestCreateSegment($projectId: ID!, $input: CreateSegmentInput!) {
      createSegment(projectId: $projectId, input: $input) { ...RestSegment }
    } ${SEGMENT}`,
    variables: ({ params, body }) => ({ projectId: params.id, input: { key: body.key, ...toSegmentInput(body) } }),
    result: (data) => data.createSegment,
  }),
  defineRoute({
    name: 'updateSegment',
    method: 'PUT',
    url: '/v1/projects/:id/segments/:key',
    tag: 'Segments',
    summary: 'Update segment',
    description: 'Replaces the fields given and keeps the others; with `version`, a stale one is refused with 409.',
    permission: 'segment:write',
    params: SegmentPath,
    projectParam: 'id',
    body: Type.Object(
      { ...SegmentFields, version: Type.Optional(Int32({ minimum: 1, description: 'The version read.' })) },
      strict,
    ),
    status: 200,
    response: Segment,
    accepted: pendingAnswer((data) => data.updateSegment),
    operation: `mutation RestUpdateSegment($projectId: ID!, $key: String!, $version: Int, $input: UpdateSegmentInput!) {
      updateSegment(projectId: $projectId, key: $key, expectedVersion: $version, input: $input) {
        ...RestSegment pendingChange { ...RestApproval }
      }
    } ${SEGMENT} ${APPROVAL}`,
    variables: ({ params, body }) => ({
      projectId: params.id,
      key: params.key,
      version: body.version,
      input: toSegmentInput(body),
    }),
    result: (data) => data.updateSegment,
  }),
  defineRoute({
    name: 'deleteSegment',
    method: 'DELETE',
    url: '/v1/projects/:id/segments/:key',
    tag: 'Segments',
    summary: 'Delete segment',
    description: "Refused (409) while a flag's rules use it.",
    permission: 'segment:write',
    params: SegmentPath,
    projectParam: 'id',
    status: 204,
    operation: `mutation RestDeleteSegment($projectId: ID!, $key: String!) {
      deleteSegment(projectId: $projectId, key: $key) { __typename }
    }`,
    variables: ({ params }) => ({ projectId: params.id, key: params.key }),
  }),
];
