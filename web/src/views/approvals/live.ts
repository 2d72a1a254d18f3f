import type { ResultOf } from '../../graphql/index.ts';
import { useLive } from '../../ui/live.ts';
import { ApprovalChanged } from './documents.ts';

export type ApprovalChange = ResultOf<typeof ApprovalChanged>['approvalChanged'];

/**
 * Calls `onChange` for every move of a pending change of the project (proposed, reviewed,
 * applied, stale, cancelled…), and `onResync` when the live connection came back after a drop.
 */
export function useApprovalChanges(
  projectId: string | undefined,
  onChange: (change: ApprovalChange) => void,
  onResync: () => void,
) {
  return useLive(
    ApprovalChanged,
    { projectId: projectId ?? '' },
    !projectId,
    (event) => onChange(event.approvalChanged),
    onResync,
  );
}
