import { useSubscription } from '@urql/preact';
import { useEffect, useRef } from 'preact/hooks';
import { onReconnected } from '../../graphql/client.ts';
import { graphql, type ResultOf } from '../../graphql/index.ts';

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
  const handlers = useRef({ onChange, onResync });
  handlers.current = { onChange, onResync };
  const [result, resubscribe] = useSubscription(
    { query: FlagChanged, variables: { projectId: projectId ?? '', flagKeys }, pause: !projectId },
    (_previous, event) => {
      handlers.current.onChange(event.flagChanged);
      return event;
    },
  );
  useEffect(() => onReconnected(() => handlers.current.onResync()), []);
  // A stream the server ended with an error (a credential refused mid-way, a restart): subscribe
  // again after a pause, and catch up on what was missed meanwhile.
  useEffect(() => {
    if (!result.error) return;
    const timer = setTimeout(() => {
      resubscribe();
      handlers.current.onResync();
    }, 3000);
    return () => clearTimeout(timer);
  }, [result.error]);
  return result.error;
}
