import { expect } from 'vitest';
import { graphql } from './client.js';

/** Enough of a test server for these builders. */
interface Server {
  url: string;
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
}

/** What the tests read of a pending change. */
export const PENDING_FIELDS = `id kind state flagKey segmentKey comment requiredApprovals approvals round baseVersion
  applyAt outcome changes proposed before author { id } environment { key } environments { key }
  reviews { reviewer { id } decision comment round }`;

/** Makes an environment require approval (as an owner or admin). */
export async function givenApprovalRequired(
  server: Server,
  auth: Record<string, string>,
  environmentId: string,
  minApprovals = 1,
) {
  const r = await graphql(
    server.url,
    'mutation($e: ID!, $m: Int) { setEnvironmentApproval(environmentId: $e, requiresApproval: true, minApprovals: $m) { requiresApproval minApprovals } }',
    { e: environmentId, m: minApprovals },
    auth,
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.setEnvironmentApproval;
}

export const REQUEST = `mutation($f: ID!, $e: ID!, $v: Int!, $input: FlagStateInput!, $comment: String, $at: DateTime) {
  requestFlagChange(flagId: $f, environmentId: $e, expectedVersion: $v, input: $input, comment: $comment, applyAt: $at) { ${PENDING_FIELDS} } }`;

export const REVIEW = `mutation($id: ID!, $d: ReviewDecision!, $c: String) {
  reviewPendingChange(id: $id, decision: $d, comment: $c) { ${PENDING_FIELDS} } }`;

export const CANCEL = `mutation($id: ID!) { cancelPendingChange(id: $id) { ${PENDING_FIELDS} } }`;

export const PENDING = `query($id: ID!) { pendingChange(id: $id) { ${PENDING_FIELDS} } }`;

/** Audit entries of an organization, from the database, oldest first. */
export async function auditRows(server: Server, organizationId: string, action?: string) {
  return server.sql<{
    action: string;
    principal_kind: string;
    actor_user_id: string | null;
    resource_id: string | null;
    details: Record<string, any>;
  }>(
    `select action, principal_kind, actor_user_id, resource_id, details from audit_entries
     where organization_id = ? ${action ? 'and action = ?' : ''} order by seq`,
    action ? [organizationId, action] : [organizationId],
  );
}
