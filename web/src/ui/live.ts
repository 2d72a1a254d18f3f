import type { AnyVariables, DocumentInput } from '@urql/core';
import { useSubscription } from '@urql/preact';
import { useEffect, useRef } from 'preact/hooks';
import { onReconnected } from '../graphql/client.ts';

/**
 * A live subscription over graphql-ws: `onEvent` for each event, `onResync` when the connection
 * came back after a drop or the server ended the stream with an error (events may have been
 * missed meanwhile: the view refetches). Answers the stream's error, for the view to show.
 */
export function useLive<Data, Variables extends AnyVariables>(
  query: DocumentInput<Data, Variables>,
  variables: Variables,
  pause: boolean,
  onEvent: (event: Data) => void,
  onResync: () => void,
) {
  const handlers = useRef({ onEvent, onResync });
  handlers.current = { onEvent, onResync };
  const [result, resubscribe] = useSubscription<Data, Data, Variables>(
    { query, variables, pause },
    (_previous, event) => {
      handlers.current.onEvent(event);
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
