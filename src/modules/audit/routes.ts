import { Type } from 'typebox';
import { defineRoute, Json, Nullable, PAGE_FIELDS, Page, PageQuery, Timestamp, Uuid } from '../../rest/route.js';

/** The audit log over REST, in the reference's names (`actor_id`, `actor_type`, `metadata`). */
const strict = { additionalProperties: false } as const;

export const AUDIT_ENTRY = `fragment RestAuditEntry on AuditEntry {
  id action resource_type: resourceType resource_id: resourceId project_id: projectId environment_id: environmentId
  actor_type: principalKind actor_id: actorUserId actor_token_id: actorTokenId metadata: details created_at: createdAt
}`;
export const AuditEntry = Type.Object({
  id: Uuid,
  action: Type.String({ description: 'e.g. flag.state.updated' }),
  resource_type: Type.String(),
  resource_id: Nullable(Type.String()),
  project_id: Nullable(Uuid),
  environment_id: Nullable(Uuid),
  actor_type: Type.String({ description: 'member, personal-token, service-token or on-behalf.' }),
  actor_id: Nullable(Uuid),
  actor_token_id: Nullable(Uuid),
  metadata: Json,
  created_at: Timestamp,
});

export const auditRoutes = [
  defineRoute({
    name: 'listAudit',
    method: 'GET',
    url: '/v1/audit',
    tag: 'Audit',
    summary: 'List audit log',
    description: "The organization's changes, newest first; every filter given must hold.",
    permission: 'audit:read',
    query: Type.Object(
      {
        ...PageQuery,
        action: Type.Optional(Type.String()),
        resource_type: Type.Optional(Type.String()),
        resource_id: Type.Optional(Type.String()),
        project_id: Type.Optional(Uuid),
        environment_id: Type.Optional(Uuid),
        actor_id: Type.Optional(Uuid),
      },
      strict,
    ),
    status: 200,
    response: Page(AuditEntry),
    operation: `query RestAudit($limit: Int, $offset: Int, $action: String, $resourceType: String, $resourceId: String,
      $projectId: ID, $environmentId: ID, $actorId: ID) {
      auditLog(limit: $limit, offset: $offset, action: $action, resourceType: $resourceType, resourceId: $resourceId,
        projectId: $projectId, environmentId: $environmentId, actorUserId: $actorId) {
        data { ...RestAuditEntry } ${PAGE_FIELDS}
      }
    } ${AUDIT_ENTRY}`,
    variables: ({ query }) => ({
      limit: query.limit,
      offset: query.offset,
      action: query.action,
      resourceType: query.resource_type,
      resourceId: query.resource_id,
      projectId: query.project_id,
      environmentId: query.environment_id,
      actorId: query.actor_id,
    }),
    result: (data) => data.auditLog,
  }),
];
