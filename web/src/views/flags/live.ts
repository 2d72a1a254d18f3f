import { graphql, type ResultOf } from '../../graphql/index.ts';
import { useLive } from '../../ui/live.ts';

/** Every change to the project's flags, as the server announces it over graphql-ws. */
export const FlagChanged = graphql(`
  subscription FlagChanged($projectId: ID!, $flagKeys: [String!]) {
    flagChanged(projectId: $projectId, flagKeys: $flagKeys) {
      kind flagKey version changedAt
      environment { id key }
      state { on version }
    }
  }
`);

export type FlagChange = ResultOf<typeof FlagChanged>['flagChanged'];

/**
 * Calls `onChange` for each change to the project's flags (or to `flagKeys` only), and
 * `onResync` when the live connection came back after a drop (changes may have been missed).
 */
export function useFlagChanges(
  projectId: string | undefined,
  flagKeys: string[] | null,
  onChange: (change: FlagChange) => void,
  onResync: () => void,
) {
  return useLive(
    FlagChanged,
    { projectId: projectId ?? '', flagKeys },
    !projectId,
    (event) => onChange(event.flagChanged),
    onResync,
  );
}
