import { graphql, type ResultOf } from '../../graphql/index.ts';

/**
 * What a gated mutation's answer carries when its change did not apply but became a pending
 * change (an environment it reaches requires approval): enough to say so and link to it.
 */
export const PendingAnswer = graphql(`
  fragment PendingAnswer on PendingChange @_unmask {
    id state kind requiredApprovals applyAt flagKey segmentKey
    project { slug }
    environment { id name }
    environments { name }
  }
`);
export type PendingAnswerData = ResultOf<typeof PendingAnswer>;

/** A row of the inbox (and of a flag's scheduled changes). */
export const PendingRow = graphql(`
  fragment PendingRow on PendingChange @_unmask {
    id kind state flagKey segmentKey comment applyAt createdAt updatedAt requiredApprovals approvals
    author { id name }
    environment { id key name color }
    environments { id name }
    proposed changes
  }
`);
export type PendingRowData = ResultOf<typeof PendingRow>;

export const PendingChangesQuery = graphql(
  `
  query PendingChanges(
    $projectId: ID!, $states: [PendingChangeState!], $environmentId: ID, $flagId: ID, $authorId: ID,
    $scheduled: Boolean, $offset: Int, $limit: Int
  ) {
    pendingChanges(
      projectId: $projectId, states: $states, environmentId: $environmentId, flagId: $flagId,
      authorId: $authorId, scheduled: $scheduled, offset: $offset, limit: $limit
    ) {
      total hasMore offset
      data { ...PendingRow }
    }
  }
`,
  [PendingRow],
);

/** What the inbox's filters choose from. */
export const InboxFiltersQuery = graphql(`
  query InboxFilters($slug: String!) {
    project(slug: $slug) {
      id slug name
      environments { id key name requiresApproval minApprovals }
      flags(limit: 100, archived: null) { data { id key name } }
    }
    members(limit: 100) { data { user { id name } } }
  }
`);

export const PendingChangeQuery = graphql(`
  query PendingChangeDetail($id: ID!) {
    pendingChange(id: $id) {
      id kind state flagKey segmentKey comment applyAt createdAt updatedAt resolvedAt outcome round
      requiredApprovals approvals baseVersion before proposed changes
      author { id name email }
      project { id slug name }
      environment { id key name color requiresApproval minApprovals }
      environments { id key name }
      flag { id key name archived environments { version environment { id } } }
      segment { id key name version }
      reviews { decision comment round createdAt reviewer { id name } }
    }
  }
`);
export type PendingChangeDetailData = ResultOf<typeof PendingChangeQuery>['pendingChange'];

export const ReviewPendingChange = graphql(`
  mutation ReviewPendingChange($id: ID!, $decision: ReviewDecision!, $comment: String) {
    reviewPendingChange(id: $id, decision: $decision, comment: $comment) { id state approvals outcome }
  }
`);

export const CancelPendingChange = graphql(`
  mutation CancelPendingChange($id: ID!) { cancelPendingChange(id: $id) { id state } }
`);

export const ReschedulePendingChange = graphql(`
  mutation ReschedulePendingChange($id: ID!, $applyAt: DateTime!) {
    reschedulePendingChange(id: $id, applyAt: $applyAt) { id state applyAt approvals }
  }
`);

export const RequestFlagChange = graphql(
  `
  mutation RequestFlagChange(
    $flagId: ID!, $environmentId: ID!, $expectedVersion: Int!, $input: FlagStateInput!,
    $comment: String, $applyAt: DateTime
  ) {
    requestFlagChange(
      flagId: $flagId, environmentId: $environmentId, expectedVersion: $expectedVersion, input: $input,
      comment: $comment, applyAt: $applyAt
    ) { ...PendingAnswer }
  }
`,
  [PendingAnswer],
);

/** Every move of a pending change of the project. */
export const ApprovalChanged = graphql(`
  subscription ApprovalChanged($projectId: ID!) {
    approvalChanged(projectId: $projectId) { pendingChangeId state changedAt }
  }
`);

/** States a change can still leave: the inbox's default. */
export const OPEN_STATES = ['PENDING', 'APPROVED'] as const;

/** Its author replaces what a flag-state change proposes: a new round, the approvals so far reset. */
export const EditPendingChange = graphql(`
  mutation EditPendingChange($id: ID!, $expectedVersion: Int!, $input: FlagStateInput!, $comment: String) {
    editPendingChange(id: $id, expectedVersion: $expectedVersion, input: $input, comment: $comment) {
      id state round approvals requiredApprovals changes updatedAt
    }
  }
`);
