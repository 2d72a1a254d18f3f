import { useQuery } from '@urql/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { graphql, type ResultOf } from '../../graphql/index.ts';
import { rememberProject } from '../../session/project.ts';
import { useCan } from '../../session/viewer.tsx';
import { Confirm } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';
import { Switch } from '../../ui/Switch.tsx';
import { PendingAnswer } from '../approvals/documents.ts';
import { announcePending, PendingBadges, useOpenChanges } from '../approvals/pending.tsx';
import { CreateFlag } from './CreateFlag.tsx';
import { LastEvaluated } from './LastEvaluated.tsx';
import { type FlagChange, useFlagChanges } from './live.ts';

const PAGE = 50;

export const FlagListQuery = graphql(`
  query FlagList($slug: String!, $search: String, $tag: String, $archived: Boolean, $offset: Int, $limit: Int, $usage: Boolean = false) {
    project(slug: $slug) {
      id slug name
      environments { id key name color }
      flags(search: $search, tag: $tag, archived: $archived, offset: $offset, limit: $limit) {
        total hasMore offset
        data {
          id key name kind tags archived temporary description
          lastEvaluatedAt @include(if: $usage)
          environments { version on environment { id key } }
        }
      }
    }
  }
`);

type ListFlag = ResultOf<typeof FlagListQuery>['project']['flags']['data'][number];

export const ToggleFlag = graphql(
  `
  mutation ToggleFlag($environmentId: ID!, $flagId: ID!, $expectedVersion: Int!, $on: Boolean!) {
    updateFlagState(environmentId: $environmentId, flagId: $flagId, expectedVersion: $expectedVersion, input: { on: $on }) {
      on version environment { id key }
      pendingChange { ...PendingAnswer }
    }
  }
`,
  [PendingAnswer],
);

export const KillFlag = graphql(`
  mutation KillFlag($flagId: ID!, $environmentId: ID) {
    killFlag(flagId: $flagId, environmentId: $environmentId) { on version environment { id key } }
  }
`);

interface LiveState {
  on: boolean;
  version: number;
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

export function FlagList({ project: slug }: { project: string }) {
  const can = useCan();
  const location = useLocation();
  const query = location.query;
  const [search, setSearch] = useState(query.q ?? '');
  const tag = query.tag || null;
  const archivedFilter = query.archived === 'all' ? null : query.archived === 'true';
  const offset = Number(query.offset ?? 0) || 0;
  const debouncedSearch = useDebounced(search, 250);
  const [result, reexecute] = useQuery({
    query: FlagListQuery,
    variables: {
      slug,
      search: debouncedSearch || null,
      tag,
      archived: archivedFilter,
      offset,
      limit: PAGE,
      usage: can('metrics:read'),
    },
  });
  // What the live stream said since the page loaded, by flag key and environment key.
  const [live, setLive] = useState<Record<string, LiveState>>({});
  const [creating, setCreating] = useState(false);
  const [killing, setKilling] = useState<ListFlag | null>(null);
  const toggle = useAction(ToggleFlag, { notifyErrors: true });
  // Cells another screen just changed, highlighted for a moment.
  const [flashed, setFlashed] = useState<ReadonlySet<string>>(new Set());
  const searchRef = useRef<HTMLInputElement>(null);
  // "/" jumps to the search field, as in most dashboards.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.key !== '/' || target?.closest('input, textarea, select, [contenteditable], dialog')) return;
      event.preventDefault();
      searchRef.current?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  // Switches whose change is on its way: not clickable again until the server answered.
  const [pending, setPending] = useState<ReadonlySet<string>>(new Set());
  const kill = useAction(KillFlag, { notifyErrors: true });

  useEffect(() => rememberProject(slug), [slug]);

  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  const onChange = (change: FlagChange) => {
    if (change.state && (change.kind === 'STATE' || change.kind === 'KILLED' || change.kind === 'PROMOTED')) {
      const state = change.state;
      const id = `${change.flagKey}/${change.environment.key}`;
      setLive((prev) => {
        const known = prev[id];
        return known && known.version >= state.version ? prev : { ...prev, [id]: state };
      });
      setFlashed((prev) => new Set(prev).add(id));
      setTimeout(
        () =>
          setFlashed((prev) => {
            const next = new Set(prev);
            next.delete(id);
            return next;
          }),
        1500,
      );
    } else {
      // Created, deleted, archived, restored or renamed: the page's membership may have changed.
      refetch();
    }
  };
  const project = result.data?.project;
  const liveError = useFlagChanges(project?.id, null, onChange, refetch);
  // Changes waiting for approval or their time: a badge beside the switch they would move.
  const open = useOpenChanges(project?.id);

  const setQuery = (next: Record<string, string | null>) => {
    const params = new URLSearchParams(location.query);
    for (const [k, v] of Object.entries(next)) {
      if (v === null || v === '') params.delete(k);
      else params.set(k, v);
    }
    const qs = params.toString();
    location.route(`/p/${slug}/flags${qs ? `?${qs}` : ''}`, true);
  };
  useEffect(() => {
    if ((query.q ?? '') !== debouncedSearch) setQuery({ q: debouncedSearch || null, offset: null });
  }, [debouncedSearch]);

  const stateOf = (flag: ListFlag, envKey: string) => {
    const fromQuery = flag.environments.find((s) => s.environment.key === envKey);
    const fromLive = live[`${flag.key}/${envKey}`];
    if (!fromQuery) return fromLive;
    return fromLive && fromLive.version > fromQuery.version ? fromLive : fromQuery;
  };

  const onToggle = async (flag: ListFlag, environmentId: string, envKey: string, on: boolean) => {
    const current = stateOf(flag, envKey);
    const id = `${flag.key}/${envKey}`;
    if (!current || pending.has(id)) return;
    setPending((prev) => new Set(prev).add(id));
    const data = await toggle.run({ environmentId, flagId: flag.id, expectedVersion: current.version, on });
    setPending((prev) => {
      const next = new Set(prev);
      next.delete(id);
      return next;
    });
    if (data && announcePending(data.updateFlagState.pendingChange)) open.refetch();
    else if (data) {
      const state = data.updateFlagState;
      setLive((prev) => ({ ...prev, [`${flag.key}/${envKey}`]: { on: state.on, version: state.version } }));
    }
  };

  const onKill = async () => {
    if (!killing) return;
    const data = await kill.run({ flagId: killing.id });
    if (data) {
      setLive((prev) => {
        const next = { ...prev };
        for (const s of data.killFlag) next[`${killing.key}/${s.environment.key}`] = { on: s.on, version: s.version };
        return next;
      });
    }
    setKilling(null);
  };

  return (
    <Page
      title="Flags"
      lead={project ? `Project ${project.name}` : undefined}
      actions={
        can('flag:write') && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New flag
          </button>
        )
      }
    >
      <search class="filters">
        <label>
          <span class="visually-hidden">Search flags</span>
          <input
            ref={searchRef}
            type="search"
            placeholder="Search key, name or description (press /)"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </label>
        <label>
          <span class="visually-hidden">Tag</span>
          <input
            placeholder="Tag"
            value={tag ?? ''}
            onChange={(e) => setQuery({ tag: e.currentTarget.value.trim() || null, offset: null })}
          />
        </label>
        <label>
          <span class="visually-hidden">Archived</span>
          <select
            value={query.archived ?? 'false'}
            onChange={(e) => setQuery({ archived: e.currentTarget.value === 'false' ? null : e.currentTarget.value })}
          >
            <option value="false">Live flags</option>
            <option value="true">Archived flags</option>
            <option value="all">All flags</option>
          </select>
        </label>
        {tag && (
          <button
            type="button"
            class="chip"
            onClick={() => setQuery({ tag: null })}
            aria-label={`Remove tag filter ${tag}`}
          >
            tag: {tag} ×
          </button>
        )}
        {can('metrics:read') && <a href={`/p/${slug}/stale-flags`}>Stale flags</a>}
        <span class={`live-dot ${liveError ? 'off' : ''}`} title={liveError ? 'Live updates interrupted' : 'Live'}>
          {liveError ? 'Reconnecting…' : 'Live'}
        </span>
      </search>
      <ErrorNote error={result.error} />
      <ErrorNote error={liveError} />
      {!project ? (
        result.fetching && <Loading />
      ) : project.flags.data.length === 0 ? (
        <div class="empty">
          <p>No flags {debouncedSearch || tag ? 'match these filters' : 'yet'}.</p>
          {can('flag:write') && !debouncedSearch && !tag && (
            <button type="button" class="primary" onClick={() => setCreating(true)}>
              Create your first flag
            </button>
          )}
        </div>
      ) : (
        <div class="table-wrap">
          <table class="flags">
            <caption class="visually-hidden">
              Flags of {project.name}, {project.flags.total} in all
            </caption>
            <thead>
              <tr>
                <th scope="col">Flag</th>
                {project.environments.map((env) => (
                  <th scope="col" key={env.id} class="env-col">
                    <span class="env-swatch" style={{ backgroundColor: env.color ?? undefined }} aria-hidden="true" />
                    {env.name}
                  </th>
                ))}
                {can('flag:write') && (
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {project.flags.data.map((flag) => (
                <tr key={flag.id} data-flag={flag.key}>
                  <th scope="row">
                    <a href={`/p/${slug}/flags/${encodeURIComponent(flag.key)}`} class="flag-name">
                      {flag.name}
                    </a>
                    <div class="flag-meta">
                      <code>{flag.key}</code> <span class="badge">{flag.kind}</span>
                      {flag.archived && <span class="badge warn">archived</span>}
                      {!flag.temporary && <span class="badge">permanent</span>}
                      {flag.lastEvaluatedAt !== undefined && <LastEvaluated at={flag.lastEvaluatedAt} />}
                      {flag.tags.map((t) => (
                        <button key={t} type="button" class="chip" onClick={() => setQuery({ tag: t, offset: null })}>
                          {t}
                        </button>
                      ))}
                    </div>
                  </th>
                  {project.environments.map((env) => {
                    const state = stateOf(flag, env.key);
                    return (
                      <td
                        key={env.id}
                        class={`env-col ${flashed.has(`${flag.key}/${env.key}`) ? 'changed' : ''}`}
                        data-env={env.key}
                      >
                        {!state ? (
                          <span class="muted">—</span>
                        ) : can('flag:write') && !flag.archived ? (
                          <Switch
                            checked={state.on}
                            label={`${flag.key} in ${env.name}`}
                            busy={pending.has(`${flag.key}/${env.key}`)}
                            onChange={(on) => void onToggle(flag, env.id, env.key, on)}
                          />
                        ) : (
                          <span class={`state ${state.on ? 'on' : 'off'}`} data-state={state.on ? 'on' : 'off'}>
                            {state.on ? 'On' : 'Off'}
                          </span>
                        )}
                        <PendingBadges slug={slug} changes={open.of(flag.key, env.id)} />
                      </td>
                    );
                  })}
                  {can('flag:write') && (
                    <td>
                      {!flag.archived && (
                        <button type="button" class="danger small" onClick={() => setKilling(flag)}>
                          Kill
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {project && (project.flags.offset > 0 || project.flags.hasMore) && (
        <nav class="pager" aria-label="Pages">
          <button
            type="button"
            disabled={offset === 0}
            onClick={() => setQuery({ offset: String(Math.max(0, offset - PAGE)) || null })}
          >
            Previous
          </button>
          <span>
            {offset + 1}–{offset + project.flags.data.length} of {project.flags.total}
          </span>
          <button
            type="button"
            disabled={!project.flags.hasMore}
            onClick={() => setQuery({ offset: String(offset + PAGE) })}
          >
            Next
          </button>
        </nav>
      )}
      {creating && project && (
        <CreateFlag
          projectId={project.id}
          onClose={() => setCreating(false)}
          onCreated={(key) => location.route(`/p/${slug}/flags/${encodeURIComponent(key)}`)}
        />
      )}
      <Confirm
        open={killing !== null}
        title={`Kill ${killing?.key ?? ''}?`}
        confirmLabel="Turn off everywhere"
        danger
        busy={kill.fetching}
        onConfirm={() => void onKill()}
        onCancel={() => setKilling(null)}
      >
        <p>
          The flag is turned off in every environment of the project at once, serving its off variation to everyone. Its
          targeting is kept.
        </p>
      </Confirm>
    </Page>
  );
}
