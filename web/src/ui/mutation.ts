import type { AnyVariables, DocumentInput, OperationResult } from '@urql/core';
import { useMutation } from '@urql/preact';
import { errorMessage } from '../graphql/client.ts';
import { notify } from './notices.tsx';

/**
 * useMutation whose failures always reach the person: the returned `run` resolves to the data,
 * or to null after the server's message was shown (in the view's ErrorNote via `error`, and as a
 * notice when `notifyErrors`).
 */
export function useAction<Data, Variables extends AnyVariables>(
  document: DocumentInput<Data, Variables>,
  options: { notifyErrors?: boolean; success?: string } = {},
) {
  const [state, execute] = useMutation<Data, Variables>(document);
  const run = async (variables: Variables): Promise<Data | null> => {
    const result: OperationResult<Data, Variables> = await execute(variables);
    if (result.error || !result.data) {
      if (options.notifyErrors) notify.error(errorMessage(result.error));
      return null;
    }
    if (options.success) notify.ok(options.success);
    return result.data;
  };
  return { run, fetching: state.fetching, error: state.error };
}
