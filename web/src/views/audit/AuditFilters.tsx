import type { ResultOf } from '../../graphql/index.ts';
import { AUDIT_ACTIONS, PRINCIPAL_KINDS, RESOURCE_TYPES } from './actions.ts';
import type { AuditContextQuery } from './entry.ts';

type Query = Record<string, string | undefined>;
const DAY = 86_400_000;

/** A yyyy-mm-dd date of the person's own calendar, as the instant its day starts. */
const dayStart = (date: string | undefined, plusDays = 0) => {
  if (!date || !/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
  const start = new Date(`${date}T00:00:00`);
  return Number.isNaN(start.getTime()) ? null : new Date(start.getTime() + plusDays * DAY).toISOString();
};

/** The audit log's filters, as the address holds them, in the API's terms. */
export function filtersOf(query: Query) {
  return {
    action: query.action || null,
    resourceType: query.type || null,
    resourceId: query.resource || null,
    projectId: query.project || null,
    environmentId: query.env || null,
    actorUserId: query.actor || null,
    principalKind: query.kind || null,
    since: dayStart(query.from),
    // "To" includes its day: entries before the next one starts.
    until: dayStart(query.to, 1),
  };
}

function Choice(props: {
  label: string;
  value: string | undefined;
  all: string;
  options: { value: string; label: string }[];
  onChange: (value: string | null) => void;
}) {
  return (
    <label>
      {props.label}
      <select value={props.value ?? ''} onChange={(e) => props.onChange(e.currentTarget.value || null)}>
        <option value="">{props.all}</option>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

const plain = (values: string[]) => values.map((v) => ({ value: v, label: v }));

export function AuditFilters(props: {
  query: Query;
  context: ResultOf<typeof AuditContextQuery>;
  onChange: (next: Record<string, string | null>) => void;
}) {
  const q = props.query;
  const projects = props.context.projects.data;
  const environments = projects
    .filter((p) => !q.project || p.id === q.project)
    .flatMap((p) => p.environments.map((e) => ({ value: e.id, label: `${p.name} / ${e.name}` })));
  const any = ['action', 'type', 'resource', 'project', 'env', 'actor', 'kind', 'from', 'to'].some((k) => q[k]);
  return (
    <search class="filters audit-filters">
      <Choice
        label="Action"
        value={q.action}
        all="All actions"
        options={plain(AUDIT_ACTIONS)}
        onChange={(v) => props.onChange({ action: v })}
      />
      <Choice
        label="Resource"
        value={q.type}
        all="All resources"
        options={plain(RESOURCE_TYPES).map((o) => ({ ...o, label: o.label.replace('_', ' ') }))}
        onChange={(v) => props.onChange({ type: v })}
      />
      <Choice
        label="Actor"
        value={q.actor}
        all="Anyone"
        options={props.context.members.data.map((m) => ({ value: m.user.id, label: m.user.name }))}
        onChange={(v) => props.onChange({ actor: v })}
      />
      <Choice
        label="Acting as"
        value={q.kind}
        all="Any credential"
        options={plain(PRINCIPAL_KINDS)}
        onChange={(v) => props.onChange({ kind: v })}
      />
      <Choice
        label="Project"
        value={q.project}
        all="All projects"
        options={projects.map((p) => ({ value: p.id, label: p.name }))}
        onChange={(v) => props.onChange({ project: v, env: null })}
      />
      <Choice
        label="Environment"
        value={q.env}
        all="All environments"
        options={environments}
        onChange={(v) => props.onChange({ env: v })}
      />
      <label>
        From
        <input
          type="date"
          value={q.from ?? ''}
          onChange={(e) => props.onChange({ from: e.currentTarget.value || null })}
        />
      </label>
      <label>
        To
        <input type="date" value={q.to ?? ''} onChange={(e) => props.onChange({ to: e.currentTarget.value || null })} />
      </label>
      {q.resource && (
        <button
          type="button"
          class="chip"
          onClick={() => props.onChange({ resource: null })}
          aria-label={`Remove the filter on ${q.resource}`}
        >
          only {q.resource} ×
        </button>
      )}
      {any && (
        <button
          type="button"
          class="small"
          onClick={() =>
            props.onChange(
              Object.fromEntries(
                ['action', 'type', 'resource', 'project', 'env', 'actor', 'kind', 'from', 'to'].map((k) => [k, null]),
              ),
            )
          }
        >
          Clear filters
        </button>
      )}
    </search>
  );
}
