import { errorMessage } from '../graphql/client.ts';

/** The server's answer to a failed query or mutation, next to what failed. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error-note" role="alert">
      {typeof error === 'string' ? error : errorMessage(error)}
    </p>
  );
}
