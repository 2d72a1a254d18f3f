import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { Loading, Page } from '../../ui/Page.tsx';
import { AuditDiff } from './AuditDiff.tsx';

const AuditLogQuery = graphql(`
  query AuditLog($action: String, $offset: Int) {
    auditLog(action: $action, offset: $offset, limit: 50) {
      total hasMore offset
      data { id action resourceType resourceId projectId createdAt principalKind actorUserId actorTokenId details }
    }
    members(limit: 100) { data { user { id name email } } }
    projects(limit: 100) { data { id slug } }
  }
`);

const ACTIONS = [
  'flag.created',
  'flag.updated',
  'flag.state.updated',
  'flag.killed',
  'flag.promoted',
  'flag.deleted',
  'segment.created',
  'segment.updated',
  'segment.deleted',
  'sdkkey.created',
  'sdkkey.revoked',
  'sdkkey.rotated_all',
  'sdkkey.origins_changed',
  'environment.created',
  'environment.updated',
  'environment.deleted',
  'project.created',
  'project.updated',
  'project.deleted',
  'member.added',
  'member.role_changed',
  'member.removed',
  'token.created',
  'token.updated',
  'token.deleted',
];

/** The organization's changes, newest first, filterable by action. */
export function AuditLog() {
  const [action, setAction] = useState('');
  const [offset, setOffset] = useState(0);
  const [result] = useQuery({ query: AuditLogQuery, variables: { action: action || null, offset } });
  const names = new Map((result.data?.members.data ?? []).map((m) => [m.user.id, m.user.name]));
  const slugs = new Map((result.data?.projects.data ?? []).map((p) => [p.id, p.slug]));
  /** Where the changed thing lives now, when it still can be opened. */
  const linkOf = (e: { action: string; resourceType: string; projectId?: string | null; details: unknown }) => {
    const slug = e.projectId ? slugs.get(e.projectId) : undefined;
    const key = (e.details as { key?: unknown } | null)?.key;
    if (!slug || typeof key !== 'string' || e.action.endsWith('.deleted')) return null;
    if (e.resourceType === 'flag') return `/p/${slug}/flags/${encodeURIComponent(key)}`;
    if (e.resourceType === 'segment') return `/p/${slug}/segments/${encodeURIComponent(key)}`;
    return null;
  };
  const page = result.data?.auditLog;
  return (
    <Page title="Audit log">
      <div class="filters">
        <label>
          Action
          <select
            value={action}
            onChange={(e) => {
              setAction(e.currentTarget.value);
              setOffset(0);
            }}
          >
            <option value="">All actions</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={result.error} />
      {!page ? (
        result.fetching && <Loading />
      ) : (
        <ol class="history">
          {page.data.map((e) => (
            <li key={e.id} class="card">
              <header>
                <strong>{e.action}</strong> {linkOf(e) && <a href={linkOf(e)!}>{(e.details as { key: string }).key}</a>}{' '}
                <span class="muted">
                  {new Date(e.createdAt).toLocaleString()} ·{' '}
                  {(e.actorUserId && names.get(e.actorUserId)) ?? e.principalKind}
                  {e.actorTokenId && ' (access token)'}
                </span>
              </header>
              <AuditDiff details={e.details} />
            </li>
          ))}
          {page.data.length === 0 && <li class="muted">Nothing recorded.</li>}
        </ol>
      )}
      {page && (page.offset > 0 || page.hasMore) && (
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>
            Newer
          </button>
          <span>
            {offset + 1}–{offset + page.data.length} of {page.total}
          </span>
          <button type="button" disabled={!page.hasMore} onClick={() => setOffset(offset + 50)}>
            Older
          </button>
        </nav>
      )}
    </Page>
  );
}
