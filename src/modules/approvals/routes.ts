import { Type } from 'typebox';
import { defineRoute, Int32, PAGE_FIELDS, Page, PageQuery, strict, Timestamp, Uuid } from '../../rest/route.js';
import { FlagStateChange, flagStateInput } from '../flags/routes.js';
import { PENDING_CHANGE_STATES } from '../pending/entity.js';
import { APPROVAL, Approval, approvalJson, enumIn } from '../pending/present.js';

/**
 * Approvals (and scheduled changes) over REST, as the reference names them: `/v1/approvals`.
 * Enum values are GraphQL's in lower case with a dot (`flag.state`, `pending`).
 */

const ById = Type.Object({ id: Uuid }, strict);
const StateInput = Type.Object(FlagStateChange, {
  ...strict,
  description: "The parts of the flag's state to replace, as PUT …/flags/{key}/environments/{envId} takes them.",
});

export const approvalRoutes = [
  defineRoute({
    name: 'createApproval',
    method: 'POST',
    url: '/v1/approvals',
    tag: 'Approvals',
    summary: 'Request a change',
    description:
      "Proposes a change to a flag's state in one environment, against the version you read: an approval request where the environment requires approval, and/or a scheduled change with `apply_at` (also where it does not).",
    permission: 'flag:write',
    body: Type.Object(
      {
        flag_id: Uuid,
        env_id: Uuid,
        version: Int32({ minimum: 1, description: "The version of the flag's state the change is made against." }),
        change: StateInput,
        comment: Type.Optional(Type.String({ maxLength: 2000 })),
        apply_at: Type.Optional(Timestamp),
      },
      strict,
    ),
    status: 201,
    response: Approval,
    operation: `mutation RestCreateApproval($flagId: ID!, $envId: ID!, $version: Int!, $input: FlagStateInput!, $comment: String, $applyAt: DateTime) {
      requestFlagChange(flagId: $flagId, environmentId: $envId, expectedVersion: $version, input: $input, comment: $comment, applyAt: $applyAt) { ...RestApproval }
    } ${APPROVAL}`,
    variables: ({ body }) => ({
      flagId: body.flag_id,
      envId: body.env_id,
      version: body.version,
      input: flagStateInput(body.change),
      comment: body.comment,
      applyAt: body.apply_at,
    }),
    result: (data) => approvalJson(data.requestFlagChange),
  }),
  defineRoute({
    name: 'listApprovals',
    method: 'GET',
    url: '/v1/approvals',
    tag: 'Approvals',
    summary: 'List approvals',
    description: 'Newest first; every filter given must hold.',
    permission: 'flag:read',
    query: Type.Object(
      {
        ...PageQuery,
        project_id: Type.Optional(Uuid),
        state: Type.Optional(Type.Enum([...PENDING_CHANGE_STATES])),
        env_id: Type.Optional(Uuid),
        flag_id: Type.Optional(Uuid),
        requested_by: Type.Optional(Uuid),
        scheduled: Type.Optional(Type.Boolean({ description: 'true: only scheduled changes.' })),
      },
      strict,
    ),
    status: 200,
    response: Page(Approval),
    operation: `query RestApprovals($limit: Int, $offset: Int, $projectId: ID, $states: [PendingChangeState!], $envId: ID, $flagId: ID, $authorId: ID, $scheduled: Boolean) {
      pendingChanges(limit: $limit, offset: $offset, projectId: $projectId, states: $states, environmentId: $envId, flagId: $flagId, authorId: $authorId, scheduled: $scheduled) {
        data { ...RestApproval } ${PAGE_FIELDS}
      }
    } ${APPROVAL}`,
    variables: ({ query }) => ({
      limit: query.limit,
      offset: query.offset,
      projectId: query.project_id,
      states: query.state ? [enumIn(query.state)] : null,
      envId: query.env_id,
      flagId: query.flag_id,
      authorId: query.requested_by,
      scheduled: query.scheduled,
    }),
    result: (data) => ({ ...data.pendingChanges, data: data.pendingChanges.data.map(approvalJson) }),
  }),
  defineRoute({
    name: 'getApproval',
    method: 'GET',
    url: '/v1/approvals/:id',
    tag: 'Approvals',
    summary: 'Get approval',
    permission: 'flag:read',
    params: ById,
    status: 200,
    response: Approval,
    operation: `query RestApproval($id: ID!) { pendingChange(id: $id) { ...RestApproval } } ${APPROVAL}`,
    variables: ({ params }) => ({ id: params.id }),
    result: (data) => approvalJson(data.pendingChange),
  }),
  defineRoute({
    name: 'reviewApproval',
    method: 'POST',
    url: '/v1/approvals/:id/review',
    tag: 'Approvals',
    summary: 'Approve or reject',
    description:
      "Never your own request; the same reviewer counts once. The approval that reaches the environment's minimum applies the change, only if the flag's state is still at the version it was made against; otherwise the answer is `state: stale` and nothing is written.",
    permission: 'approval:review',
    params: ById,
    body: Type.Object(
      { decision: Type.Enum(['approve', 'reject']), comment: Type.Optional(Type.String({ maxLength: 2000 })) },
      strict,
    ),
    status: 200,
    response: Approval,
    operation: `mutation RestReviewApproval($id: ID!, $decision: ReviewDecision!, $comment: String) {
      reviewPendingChange(id: $id, decision: $decision, comment: $comment) { ...RestApproval }
    } ${APPROVAL}`,
    variables: ({ params, body }) => ({ id: params.id, decision: body.decision.toUpperCase(), comment: body.comment }),
    result: (data) => approvalJson(data.reviewPendingChange),
  }),
  defineRoute({
    name: 'cancelApproval',
    method: 'POST',
    url: '/v1/approvals/:id/cancel',
    tag: 'Approvals',
    summary: 'Cancel',
    description: 'By its author (or a reviewer): it will not apply.',
    permission: 'flag:read',
    params: ById,
    status: 200,
    response: Approval,
    operation: `mutation RestCancelApproval($id: ID!) { cancelPendingChange(id: $id) { ...RestApproval } } ${APPROVAL}`,
    variables: ({ params }) => ({ id: params.id }),
    result: (data) => approvalJson(data.cancelPendingChange),
  }),
  defineRoute({
    name: 'rescheduleApproval',
    method: 'POST',
    url: '/v1/approvals/:id/reschedule',
    tag: 'Approvals',
    summary: 'Reschedule',
    description: 'A new time for a scheduled change; where it requires approval, its approvals are reset.',
    permission: 'flag:write',
    params: ById,
    body: Type.Object({ apply_at: Timestamp }, strict),
    status: 200,
    response: Approval,
    operation: `mutation RestRescheduleApproval($id: ID!, $applyAt: DateTime!) {
      reschedulePendingChange(id: $id, applyAt: $applyAt) { ...RestApproval }
    } ${APPROVAL}`,
    variables: ({ params, body }) => ({ id: params.id, applyAt: body.apply_at }),
    result: (data) => approvalJson(data.reschedulePendingChange),
  }),
  defineRoute({
    name: 'setEnvironmentApproval',
    method: 'PUT',
    url: '/v1/environments/:id/approval',
    tag: 'Approvals',
    summary: 'Require approval in an environment',
    description: 'Whether changes to what it evaluates wait for reviewers, and how many approvals they need.',
    permission: 'approval:review',
    params: ById,
    body: Type.Object(
      { requires_approval: Type.Boolean(), min_approvals: Type.Optional(Int32({ minimum: 1, maximum: 10 })) },
      strict,
    ),
    status: 200,
    response: Type.Object({ env_id: Uuid, requires_approval: Type.Boolean(), min_approvals: Type.Integer() }),
    operation: `mutation RestSetEnvironmentApproval($id: ID!, $requires: Boolean!, $min: Int) {
      setEnvironmentApproval(environmentId: $id, requiresApproval: $requires, minApprovals: $min) {
        env_id: id requires_approval: requiresApproval min_approvals: minApprovals
      }
    }`,
    variables: ({ params, body }) => ({ id: params.id, requires: body.requires_approval, min: body.min_approvals }),
    result: (data) => data.setEnvironmentApproval,
  }),
];
