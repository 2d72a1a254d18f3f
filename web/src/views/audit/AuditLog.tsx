import { useQuery } from '@urql/preact';
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { graphql } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { Loading, Page } from '../../ui/Page.tsx';
import { AuditEntry } from './AuditEntry.tsx';
import { AuditFilters, filtersOf } from './AuditFilters.tsx';
import { ChainCheck } from './ChainCheck.tsx';
import { AuditContextQuery, AuditEntryFields, linkOf, namesOf } from './entry.ts';

const PAGE = 50;

const AuditLogQuery = graphql(
  `
  query AuditLog($action: String, $resourceType: String, $resourceId: String, $projectId: ID, $environmentId: ID,
    $actorUserId: ID, $principalKind: String, $since: DateTime, $until: DateTime, $after: String, $limit: Int) {
    auditLog(action: $action, resourceType: $resourceType, resourceId: $resourceId, projectId: $projectId,
      environmentId: $environmentId, actorUserId: $actorUserId, principalKind: $principalKind,
      since: $since, until: $until, after: $after, limit: $limit) {
      total hasMore nextCursor
      data { ...AuditEntryFields }
    }
  }
`,
  [AuditEntryFields],
);

/** The organization's changes, newest first: filtered (in the address, so a view can be shared), paged by cursor. */
export function AuditLog() {
  const location = useLocation();
  const filters = filtersOf(location.query);
  const filterKey = JSON.stringify(filters);
  // The cursors of the pages before this one: Older pushes the page's nextCursor, Newer pops.
  const [cursors, setCursors] = useState<string[]>([]);
  useEffect(() => setCursors([]), [filterKey]);
  const [result] = useQuery({
    query: AuditLogQuery,
    variables: { ...filters, after: cursors.at(-1) ?? null, limit: PAGE },
  });
  const [context] = useQuery({ query: AuditContextQuery });
  const names = context.data ? namesOf(context.data) : null;
  const slugs = new Map((context.data?.projects.data ?? []).map((p) => [p.id, p.slug]));
  const page = result.data?.auditLog;
  const setQuery = (next: Record<string, string | null>) => {
    const params = new URLSearchParams(location.query);
    for (const [k, v] of Object.entries(next)) {
      if (v) params.set(k, v);
      else params.delete(k);
    }
    const qs = params.toString();
    location.route(`/audit${qs ? `?${qs}` : ''}`, true);
  };
  const first = cursors.length * PAGE;
  return (
    <Page title="Audit log" actions={<ChainCheck />}>
      {context.data && <AuditFilters query={location.query} context={context.data} onChange={setQuery} />}
      <ErrorNote error={result.error ?? context.error} />
      {!page || !names ? (
        (result.fetching || context.fetching) && <Loading />
      ) : (
        <>
          <p class="muted" role="status">
            {page.total === 0
              ? 'Nothing recorded matches.'
              : `${first + 1}–${first + page.data.length} of ${page.total} ${page.total === 1 ? 'entry' : 'entries'}`}
          </p>
          <ol class="history">
            {page.data.map((e) => (
              <AuditEntry
                key={e.id}
                entry={e}
                names={names}
                link={linkOf(e, slugs)}
                onOnlyThis={filters.resourceId ? undefined : () => setQuery({ resource: e.resourceId ?? null })}
              />
            ))}
          </ol>
        </>
      )}
      {page && (cursors.length > 0 || page.hasMore) && (
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Newer
          </button>
          <button
            type="button"
            disabled={!page.nextCursor}
            onClick={() => page.nextCursor && setCursors((c) => [...c, page.nextCursor!])}
          >
            Older
          </button>
        </nav>
      )}
    </Page>
  );
}
