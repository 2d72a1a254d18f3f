import { useQuery } from '@urql/preact';
import { graphql } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { Loading } from '../../ui/Page.tsx';
import { AuditEntry } from '../audit/AuditEntry.tsx';
import { AuditContextQuery, AuditEntryFields, namesOf } from '../audit/entry.ts';

const FlagHistoryQuery = graphql(
  `
  query FlagHistory($resourceId: String!) {
    auditLog(resourceId: $resourceId, limit: 50) {
      total
      data { ...AuditEntryFields }
    }
  }
`,
  [AuditEntryFields],
);

/** The flag's audit entries, newest first, each with what it changed; the rest in the audit log. */
export function FlagHistory({ flagId }: { flagId: string }) {
  const [result] = useQuery({ query: FlagHistoryQuery, variables: { resourceId: flagId } });
  const [context] = useQuery({ query: AuditContextQuery });
  if (!result.data || !context.data) {
    return result.error || context.error ? <ErrorNote error={result.error ?? context.error} /> : <Loading />;
  }
  const { data: entries, total } = result.data.auditLog;
  const names = namesOf(context.data);
  return (
    <>
      <ol class="history">
        {entries.map((e) => (
          <AuditEntry key={e.id} entry={e} names={names} />
        ))}
        {entries.length === 0 && <li class="muted">No changes recorded.</li>}
      </ol>
      {total > entries.length && (
        <p>
          <a href={`/audit?resource=${encodeURIComponent(flagId)}`}>All {total} changes in the audit log</a>
        </p>
      )}
    </>
  );
}
