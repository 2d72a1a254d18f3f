import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { Copyable } from '../../ui/Copy.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import type { EnvironmentRow } from './Environments.tsx';

const SetOrigins = graphql(`
  mutation SetAuthorizedOrigins($environmentId: ID!, $origins: [String!]!) {
    setAuthorizedOrigins(environmentId: $environmentId, origins: $origins) { id authorizedOrigins unsafeOrigins }
  }
`);

/** The public client-side ID for browser SDKs and the websites allowed to use it. */
export function ClientSide({ environment, canManage }: { environment: EnvironmentRow; canManage: boolean }) {
  const [text, setText] = useState(environment.authorizedOrigins.join('\n'));
  const save = useAction(SetOrigins, { success: 'Saved the authorized origins.' });
  const origins = text
    .split(/[\s,]+/)
    .map((o) => o.trim())
    .filter(Boolean);
  const wildcard = origins.includes('*');
  return (
    <div class="client-side">
      <h3>Client-side ID</h3>
      {environment.clientSideId ? (
        <Copyable value={environment.clientSideId} label={`Client-side ID of ${environment.name}`} />
      ) : (
        <p class="muted">No client-side ID.</p>
      )}
      {(environment.unsafeOrigins || (canManage && wildcard)) && (
        <p class="warning" role="alert">
          “*” lets any website use this client-side ID and read every client-side flag of {environment.name}. List your
          own origins instead.
        </p>
      )}
      {canManage ? (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void save.run({ environmentId: environment.id, origins });
          }}
        >
          <label>
            Authorized origins (one per line, e.g. https://app.example.com)
            <textarea rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <ErrorNote error={save.error} />
          <div class="actions">
            <button type="submit" disabled={save.fetching}>
              Save origins
            </button>
          </div>
        </form>
      ) : (
        <p class="muted">
          Authorized origins: {environment.authorizedOrigins.length ? environment.authorizedOrigins.join(', ') : 'none'}
        </p>
      )}
    </div>
  );
}
