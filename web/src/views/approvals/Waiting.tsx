import { useQuery } from '@urql/preact';
import { graphql } from '../../graphql/index.ts';
import { useApprovalChanges } from './live.ts';

/** The project's requests waiting for reviewers, with what says whether this person may review each. */
const WaitingQuery = graphql(`
  query WaitingRequests($projectId: ID!) {
    pendingChanges(projectId: $projectId, states: [PENDING], limit: 100) {
      hasMore
      data { id requiredApprovals round author { id } reviews { round reviewer { id } } }
    }
  }
`);

/**
 * How many requests of the project wait for this reviewer: pending, needing approvals, not their
 * own, and not reviewed by them in the current round (the server refuses both). Kept live.
 */
export function useWaitingCount(projectId: string | undefined, userId: string | undefined) {
  const [result, reexecute] = useQuery({
    query: WaitingQuery,
    variables: { projectId: projectId ?? '' },
    pause: !projectId || !userId,
  });
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  useApprovalChanges(userId ? projectId : undefined, refetch, refetch);
  const page = result.data?.pendingChanges;
  if (!page) return null;
  const count = page.data.filter(
    (c) =>
      c.requiredApprovals > 0 &&
      c.author?.id !== userId &&
      !c.reviews.some((r) => r.round === c.round && r.reviewer?.id === userId),
  ).length;
  return { count, more: page.hasMore };
}

/** The count beside the Approvals link, seen ("2") and heard as part of the link's name. */
export function waitingCount(waiting: { count: number; more: boolean } | null) {
  if (!waiting || waiting.count === 0) return null;
  const shown = `${waiting.count}${waiting.more ? '+' : ''}`;
  return {
    label: `Approvals, ${shown} waiting`,
    badge: (
      <span class="badge warn nav-count" aria-hidden="true" data-waiting={waiting.count}>
        {shown}
      </span>
    ),
  };
}
