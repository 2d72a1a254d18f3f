import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { graphql } from '../../graphql/index.ts';
import { useCan } from '../../session/viewer.tsx';
import { Confirm } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';
import { Tabs } from '../../ui/Tabs.tsx';
import { FlagScheduled } from '../approvals/Schedule.tsx';
import { FlagHistory } from './FlagHistory.tsx';
import { KillFlag } from './FlagList.tsx';
import { FlagMetrics } from './FlagMetrics.tsx';
import { FlagSettings } from './FlagSettings.tsx';
import { useFlagChanges } from './live.ts';
import { Promote } from './Promote.tsx';
import { Targeting } from './Targeting.tsx';

export const FlagDetailQuery = graphql(`
  query FlagDetail($slug: String!, $key: String!) {
    project(slug: $slug) {
      id slug
      segments(limit: 100) { data { key name } }
      flags(limit: 100, archived: null) { data { key name variations { name value } } }
      flag(key: $key) {
        id key name description kind tags temporary clientSideAvailable archived archivedAt createdAt updatedAt
        variations { name value }
        environments {
          version on offVariation updatedAt
          environment { id key name color }
          targets { variation values }
          rules {
            id description
            clauses { attribute op negate values }
            serve { variation rollout { bucketBy salt variations { variation weight } } }
          }
          fallthrough { variation rollout { bucketBy salt variations { variation weight } } }
          prerequisites { key variation }
        }
      }
    }
  }
`);

export function FlagDetail({ project: slug, flagKey }: { project: string; flagKey: string }) {
  const can = useCan();
  const location = useLocation();
  const key = decodeURIComponent(flagKey);
  const [result, reexecute] = useQuery({ query: FlagDetailQuery, variables: { slug, key } });
  const project = result.data?.project;
  const flag = project?.flag;
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  // Any change to this flag anywhere: fetch its state again (editors in progress keep their draft).
  const liveError = useFlagChanges(project?.id, [key], refetch, refetch);
  const envKey = location.query.env ?? flag?.environments[0]?.environment.key;
  const [tab, setTab] = useState<'targeting' | 'settings' | 'metrics' | 'history'>('targeting');
  const [killing, setKilling] = useState(false);
  const kill = useAction(KillFlag, { notifyErrors: true, success: 'Turned off in every environment.' });

  if (!flag) {
    return (
      <Page title={key}>
        <ErrorNote error={result.error} />
        {result.fetching && <Loading />}
      </Page>
    );
  }
  const state = flag.environments.find((s) => s.environment.key === envKey) ?? flag.environments[0];
  const otherFlags = project.flags.data.filter((f) => f.key !== flag.key);
  const canWrite = can('flag:write');

  return (
    <Page
      title={flag.name}
      actions={
        canWrite &&
        !flag.archived &&
        flag.environments.some((s) => s.on) && (
          <button type="button" class="danger" onClick={() => setKilling(true)}>
            Kill everywhere…
          </button>
        )
      }
      lead={
        <>
          <a href={`/p/${slug}/flags`}>Flags</a> / <code>{flag.key}</code> · <span class="badge">{flag.kind}</span>
          {flag.archived && <span class="badge warn">archived</span>}
          {flag.tags.map((t) => (
            <a key={t} class="chip" href={`/p/${slug}/flags?tag=${encodeURIComponent(t)}`}>
              {t}
            </a>
          ))}
          {flag.description && <span class="muted"> · {flag.description}</span>}
        </>
      }
    >
      <ErrorNote error={result.error} />
      <ErrorNote error={liveError} />
      <Tabs
        label="Flag"
        value={tab}
        onChange={(v) => setTab(v as typeof tab)}
        tabs={[
          { value: 'targeting', label: 'Targeting' },
          { value: 'settings', label: 'Settings & variations' },
          ...(can('metrics:read') ? [{ value: 'metrics', label: 'Metrics' }] : []),
          ...(can('audit:read') ? [{ value: 'history', label: 'History' }] : []),
        ]}
      />
      {tab === 'targeting' && state && (
        <div role="tabpanel" aria-label="Targeting">
          <Tabs
            label="Environment"
            value={state.environment.key}
            onChange={(env) => location.route(`/p/${slug}/flags/${encodeURIComponent(flag.key)}?env=${env}`, true)}
            tabs={flag.environments.map((s) => ({
              value: s.environment.key,
              label: `${s.environment.name} · ${s.on ? 'on' : 'off'}`,
            }))}
          />
          <Targeting
            key={state.environment.id}
            flag={flag}
            state={state}
            segments={project.segments.data}
            otherFlags={otherFlags}
            canWrite={canWrite}
            project={project}
          />
          <FlagScheduled slug={slug} flagKey={flag.key} />
          {canWrite && !flag.archived && flag.environments.length > 1 && (
            <Promote flag={flag} from={state.environment} environments={flag.environments.map((s) => s.environment)} />
          )}
        </div>
      )}
      {tab === 'settings' && (
        <div role="tabpanel" aria-label="Settings">
          <FlagSettings
            flag={flag}
            canWrite={canWrite}
            canDelete={can('flag:delete')}
            onDeleted={() => location.route(`/p/${slug}/flags`)}
          />
        </div>
      )}
      <Confirm
        open={killing}
        title={`Kill ${flag.key}?`}
        confirmLabel="Turn off everywhere"
        danger
        busy={kill.fetching}
        onCancel={() => setKilling(false)}
        onConfirm={async () => {
          await kill.run({ flagId: flag.id });
          setKilling(false);
        }}
      >
        <p>
          Turned off in{' '}
          {flag.environments
            .filter((s) => s.on)
            .map((s) => s.environment.name)
            .join(', ')}{' '}
          at once, serving the off variation to everyone. Targeting is kept.
        </p>
      </Confirm>
      {tab === 'metrics' && (
        <div role="tabpanel" aria-label="Metrics">
          <FlagMetrics
            projectId={project.id}
            flagKey={flag.key}
            variations={flag.variations}
            environments={flag.environments}
          />
        </div>
      )}
      {tab === 'history' && (
        <div role="tabpanel" aria-label="History">
          <FlagHistory flagId={flag.id} />
        </div>
      )}
    </Page>
  );
}
