import { useQuery } from '@urql/preact';
import { useLocation } from 'preact-iso';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { Loading, Page } from '../../ui/Page.tsx';
import { Pager } from '../../ui/Pager.tsx';
import { utc, When } from '../../ui/time.tsx';
import { InboxFiltersQuery, OPEN_STATES, PendingChangesQuery } from './documents.ts';
import { useApprovalChanges } from './live.ts';
import { requestPath } from './pending.tsx';
import { KIND_LABEL, STATE_LABEL, stateTone, subjectOf } from './words.ts';

const PAGE = 25;
const STATES = ['PENDING', 'APPROVED', 'APPLIED', 'REJECTED', 'STALE', 'CANCELLED', 'EXPIRED'] as const;
type State = (typeof STATES)[number];

/** The filter's value as the API's `states`: open ones by default, every one for "all". */
function statesOf(value: string | undefined): State[] | null {
  if (!value || value === 'open') return [...OPEN_STATES];
  if (value === 'all') return null;
  return STATES.includes(value as State) ? [value as State] : [...OPEN_STATES];
}

/**
 * The project's approval requests (or, with `scheduled`, its scheduled changes), filtered by
 * state, environment, flag and author, newest first, updating itself as changes move.
 */
export function Inbox({ project: slug, scheduled = false }: { project: string; scheduled?: boolean }) {
  const location = useLocation();
  const query = location.query;
  const [filters] = useQuery({ query: InboxFiltersQuery, variables: { slug } });
  const project = filters.data?.project;
  const offset = Number(query.offset ?? 0) || 0;
  const [result, reexecute] = useQuery({
    query: PendingChangesQuery,
    variables: {
      projectId: project?.id ?? '',
      states: statesOf(query.state),
      environmentId: query.env || null,
      flagId: query.flag || null,
      authorId: query.author || null,
      scheduled: scheduled ? true : null,
      offset,
      limit: PAGE,
    },
    pause: !project,
  });
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  const liveError = useApprovalChanges(project?.id, refetch, refetch);
  const base = `/p/${slug}/${scheduled ? 'scheduled' : 'approvals'}`;
  const setQuery = (next: Record<string, string | null>) => {
    const params = new URLSearchParams(location.query);
    for (const [k, v] of Object.entries(next)) {
      if (v === null || v === '') params.delete(k);
      else params.set(k, v);
    }
    const qs = params.toString();
    location.route(`${base}${qs ? `?${qs}` : ''}`, true);
  };
  const page = result.data?.pendingChanges;
  const select = (name: string, label: string, options: { value: string; label: string }[], fallback = '') => (
    <label>
      <span class="visually-hidden">{label}</span>
      <select
        value={query[name] ?? fallback}
        onChange={(e) => setQuery({ [name]: e.currentTarget.value, offset: null })}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <Page
      title={scheduled ? 'Scheduled changes' : 'Approvals'}
      lead={
        project &&
        (scheduled
          ? `Changes of ${project.name} waiting for their time, in your time zone.`
          : `Changes to ${project.name} waiting for reviewers, and what became of them.`)
      }
    >
      <search class="filters">
        {select(
          'state',
          'State',
          [
            { value: 'open', label: 'Open (pending or approved)' },
            ...STATES.map((s) => ({ value: s, label: STATE_LABEL[s]! })),
            { value: 'all', label: 'Every state' },
          ],
          'open',
        )}
        {select('env', 'Environment', [
          { value: '', label: 'Every environment' },
          ...(project?.environments ?? []).map((e) => ({ value: e.id, label: e.name })),
        ])}
        {select('flag', 'Flag', [
          { value: '', label: 'Every flag' },
          ...(project?.flags.data ?? []).map((f) => ({ value: f.id, label: f.key })),
        ])}
        {select('author', 'Author', [
          { value: '', label: 'Anyone' },
          ...(filters.data?.members.data ?? []).map((m) => ({ value: m.user.id, label: m.user.name })),
        ])}
        <span class={`live-dot ${liveError ? 'off' : ''}`} title={liveError ? 'Live updates interrupted' : 'Live'}>
          {liveError ? 'Reconnecting…' : 'Live'}
        </span>
      </search>
      <ErrorNote error={filters.error ?? result.error} />
      {!page ? (
        (filters.fetching || result.fetching) && <Loading />
      ) : page.data.length === 0 ? (
        <div class="empty">
          <p>{scheduled ? 'No scheduled changes match these filters.' : 'No requests match these filters.'}</p>
        </div>
      ) : (
        <div class="table-wrap">
          <table class="inbox">
            <caption class="visually-hidden">
              {scheduled ? 'Scheduled changes' : 'Approval requests'}, {page.total} in all
            </caption>
            <thead>
              <tr>
                <th scope="col">Change</th>
                <th scope="col">Where</th>
                <th scope="col">By</th>
                <th scope="col">{scheduled ? 'Applies at' : 'Proposed'}</th>
                <th scope="col">Approvals</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((c) => {
                const { what, where } = subjectOf(c);
                return (
                  <tr key={c.id} data-request={c.id}>
                    <th scope="row">
                      <a href={requestPath(slug, c.id)}>
                        {KIND_LABEL[c.kind]} <code>{what}</code>
                      </a>
                      {c.changes.length > 0 && (
                        <div class="muted">
                          {c.changes.slice(0, 2).join('; ')}
                          {c.changes.length > 2 && ` (+${c.changes.length - 2} more)`}
                        </div>
                      )}
                    </th>
                    <td>{where}</td>
                    <td>{c.author?.name ?? 'a service token'}</td>
                    <td>
                      <When iso={scheduled ? c.applyAt : c.createdAt} />
                      {scheduled && c.applyAt && <div class="muted">{utc(new Date(c.applyAt))} UTC</div>}
                      {!scheduled && c.applyAt && (
                        <div class="muted">
                          applies at <When iso={c.applyAt} />
                        </div>
                      )}
                    </td>
                    <td>{c.requiredApprovals === 0 ? '—' : `${c.approvals} of ${c.requiredApprovals}`}</td>
                    <td>
                      <span class={`badge ${stateTone(c.state)}`}>{STATE_LABEL[c.state]}</span>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={page} size={PAGE} onOffset={(o) => setQuery({ offset: o ? String(o) : null })} />
    </Page>
  );
}
