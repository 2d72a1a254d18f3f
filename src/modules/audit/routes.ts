import { Type } from 'typebox';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../common/pagination.js';
import { defineRoute, Int32, Json, Nullable, PAGE_FIELDS, Page, strict, Timestamp, Uuid } from '../../rest/route.js';

/** The audit log over REST, in the reference's names (`actor_id`, `actor_type`, `metadata`). */

export const AUDIT_ENTRY = `fragment RestAuditEntry on AuditEntry {
  id action resource_type: resourceType resource_id: resourceId project_id: projectId environment_id: environmentId
  actor_type: principalKind actor_id: actorUserId actor_token_id: actorTokenId metadata: details changes
  request_id: requestId client_ip: clientIp seq prev_hash: prevHash hash created_at: createdAt
}`;
export const AuditEntry = Type.Object({
  id: Uuid,
  action: Type.String({ description: 'e.g. flag.state.updated' }),
  resource_type: Type.String(),
  resource_id: Nullable(Type.String()),
  project_id: Nullable(Uuid),
  environment_id: Nullable(Uuid),
  actor_type: Type.String({ description: 'member, personal-token, service-token, on-behalf or scheduler.' }),
  actor_id: Nullable(Uuid),
  actor_token_id: Nullable(Uuid),
  metadata: Json,
  changes: Type.Array(Type.String(), { description: "metadata's before and after, as lines a person reads." }),
  request_id: Nullable(Type.String()),
  client_ip: Nullable(Type.String()),
  seq: Nullable(Type.Integer({ description: "The entry's position in its organization's hash chain." })),
  prev_hash: Nullable(Type.String()),
  hash: Nullable(Type.String({ description: 'SHA-256 over prev_hash and the entry (RFC 8785 canonical JSON).' })),
  created_at: Timestamp,
});

export const auditRoutes = [
  defineRoute({
    name: 'listAudit',
    method: 'GET',
    url: '/v1/audit',
    tag: 'Audit',
    summary: 'List audit log',
    description:
      "The organization's changes, newest first; every filter given must hold. For an export, follow `next_cursor` with `after` (it stays valid whatever is written meanwhile).",
    permission: 'audit:read',
    query: Type.Object(
      {
        limit: Type.Optional(
          Int32({
            minimum: 1,
            maximum: MAX_LIMIT,
            default: DEFAULT_LIMIT,
            description: `Items per page, 1-${MAX_LIMIT}.`,
          }),
        ),
        offset: Type.Optional(Int32({ minimum: 0, default: 0, description: 'Items to skip (not with after).' })),
        after: Type.Optional(Type.String({ description: 'The next_cursor of the previous page.' })),
        action: Type.Optional(Type.String()),
        resource_type: Type.Optional(Type.String()),
        resource_id: Type.Optional(Type.String()),
        project_id: Type.Optional(Uuid),
        environment_id: Type.Optional(Uuid),
        actor_id: Type.Optional(Uuid),
        actor_token_id: Type.Optional(Uuid),
        actor_type: Type.Optional(Type.String()),
        since: Type.Optional(Timestamp),
        until: Type.Optional(Timestamp),
      },
      strict,
    ),
    status: 200,
    response: Type.Object({ ...Page(AuditEntry).properties, next_cursor: Nullable(Type.String()) }),
    operation: `query RestAudit($limit: Int, $offset: Int, $after: String, $action: String, $resourceType: String, $resourceId: String,
      $projectId: ID, $environmentId: ID, $actorId: ID, $actorTokenId: ID, $actorType: String, $since: DateTime, $until: DateTime) {
      auditLog(limit: $limit, offset: $offset, after: $after, action: $action, resourceType: $resourceType, resourceId: $resourceId,
        projectId: $projectId, environmentId: $environmentId, actorUserId: $actorId, actorTokenId: $actorTokenId,
        principalKind: $actorType, since: $since, until: $until) {
        data { ...RestAuditEntry } ${PAGE_FIELDS} next_cursor: nextCursor
      }
    } ${AUDIT_ENTRY}`,
    variables: ({ query }) => ({
      limit: query.limit,
      offset: query.after ? undefined : query.offset,
      after: query.after,
      action: query.action,
      resourceType: query.resource_type,
      resourceId: query.resource_id,
      projectId: query.project_id,
      environmentId: query.environment_id,
      actorId: query.actor_id,
      actorTokenId: query.actor_token_id,
      actorType: query.actor_type,
      since: query.since,
      until: query.until,
    }),
    result: (data) => data.auditLog,
  }),
  defineRoute({
    name: 'verifyAuditChain',
    method: 'GET',
    url: '/v1/audit/verify',
    tag: 'Audit',
    summary: 'Verify the audit chain',
    description: "Recomputes the organization's hash chain and names the first broken link.",
    permission: 'audit:read',
    status: 200,
    response: Type.Object({
      valid: Type.Boolean(),
      checked: Type.Integer(),
      length: Type.Integer(),
      first_broken: Nullable(Type.Object({ seq: Type.Integer(), entry_id: Nullable(Uuid), reason: Type.String() })),
    }),
    operation: `query RestVerifyAudit { verifyAuditChain {
      valid checked length first_broken: firstBroken { seq entry_id: entryId reason } } }`,
    variables: () => ({}),
    result: (data) => data.verifyAuditChain,
  }),
];
