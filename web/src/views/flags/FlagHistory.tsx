import { useQuery } from '@urql/preact';
import { graphql } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { Loading } from '../../ui/Page.tsx';
import { AuditDiff } from '../audit/AuditDiff.tsx';

const FlagHistoryQuery = graphql(`
  query FlagHistory($resourceId: String!) {
    auditLog(resourceId: $resourceId, limit: 50) {
      total
      data { id action createdAt principalKind actorUserId actorTokenId environmentId details }
    }
    members(limit: 100) { data { user { id name } } }
  }
`);

/** The flag's audit entries, newest first, each with what it changed. */
export function FlagHistory({ flagId }: { flagId: string }) {
  const [result] = useQuery({ query: FlagHistoryQuery, variables: { resourceId: flagId } });
  if (!result.data) return result.error ? <ErrorNote error={result.error} /> : <Loading />;
  const entries = result.data.auditLog.data;
  const names = new Map(result.data.members.data.map((m) => [m.user.id, m.user.name]));
  return (
    <ol class="history">
      {entries.map((e) => (
        <li key={e.id} class="card">
          <header>
            <strong>{e.action}</strong>{' '}
            <span class="muted">
              {new Date(e.createdAt).toLocaleString()} ·{' '}
              {(e.actorUserId && names.get(e.actorUserId)) ?? e.principalKind}
              {e.actorTokenId && ' (access token)'}
            </span>
          </header>
          <AuditDiff details={e.details} />
        </li>
      ))}
      {entries.length === 0 && <li class="muted">No changes recorded.</li>}
    </ol>
  );
}
